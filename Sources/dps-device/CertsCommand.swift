import ArgumentParser

/// `dps-device certs …`: make and inspect the walkthrough's certificates.
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Make and inspect device, CA and server certificates.",
        subcommands: [])
}
