import DeviceCore
