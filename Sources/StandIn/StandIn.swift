// Local stand-ins for Azure: the DPS emulator and the IoT Hub monitor.
