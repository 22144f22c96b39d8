import DeviceCore

extension PropertyBagError {
    /// What is wrong, in words.
    public var summary: StaticString {
        switch kind {
        case .emptyKey: return "property bag pair has an empty name"
        case .invalidEscape: return "property bag has a '%' not followed by two hex digits"
        }
    }
}
