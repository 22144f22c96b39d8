// The certificate tool (`dps-device certs`): made with mbedTLS's certificate writing.
