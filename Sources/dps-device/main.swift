print("dps-device")
