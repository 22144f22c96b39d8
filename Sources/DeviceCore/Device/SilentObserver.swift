/// An observer that ignores every event and never stops the flow: for a firmware with no
/// console (`IoTDevice` uses it when given no observer).
public struct SilentObserver<TransportFailure: Error>: DeviceFlowObserver {
    public init() {}
    public mutating func observe(_ event: DeviceFlowEvent<TransportFailure>) {}
}
