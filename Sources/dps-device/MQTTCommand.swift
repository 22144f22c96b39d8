import ArgumentParser
import DeviceCore
import DeviceCoreWords
import DeviceCommandLine
import HostJSON
import PacketInspector

/// `dps-device mqtt …`: MQTT 3.1.1 packets to JSON and back.
struct MQTTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mqtt",
        abstract: "Decode and encode MQTT 3.1.1 packets; say what a rule number means.",
        subcommands: [Decode.self, Encode.self, Rule.self]
    )
}

extension MQTTCommand {
    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode hex MQTT packets to JSON, one object per line.",
            discussion: """
                Reads hex from the arguments, or from standard input when there are none. \
                Whitespace is ignored anywhere and each token may start with 0x. The bytes may \
                hold several packets back to back; they are read and printed as they come, a \
                large PUBLISH's payload too, in bounded memory. On malformed input the packets \
                before it are printed, the error goes to standard error and the exit code is 1.
                """
        )

        @Argument(help: "Hex bytes, e.g. 'c0 00' or c000.")
        var hex: [String] = []

        func run() throws {
            try Console.run {
                let output = MQTTStreams.standardOutput()
                defer { output.flush() }
                if hex.isEmpty {
                    let decoder = HexPacketDecoder(segmentName: "line", linesAreSegments: true, output: output)
                    try MQTTStreams.forEachStandardInputPiece { piece in
                        try decoder.feed(piece)
                        output.flush()  // what this piece completed goes out before the next read waits
                    }
                    try decoder.finish()
                } else {
                    let decoder = HexPacketDecoder(segmentName: "argument", linesAreSegments: false, output: output)
                    for (index, argument) in hex.enumerated() {
                        if index > 0 { try decoder.endSegment() }
                        var argument = argument
                        try argument.withUTF8 { try decoder.feed(UnsafeRawBufferPointer($0)) }
                    }
                    try decoder.finish()
                }
            }
        }
    }

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encode JSON packet descriptions to hex, one packet per line.",
            discussion: """
                Takes one JSON object per argument, or from standard input when there are none: \
                JSON objects one after another (one per line, or spread over lines) or arrays of \
                them, each encoded as soon as it is read. A PUBLISH's payload_hex over 8 MiB is \
                streamed when it comes last, after payload_len (as decode writes it). Errors \
                name the object (counted from 1) and the field, and exit with code 1.
                """
        )

        @Argument(help: "JSON objects, e.g. '{\"type\":\"pingreq\"}'.")
        var json: [String] = []

        func run() throws {
            try Console.run {
                let output = MQTTStreams.standardOutput()
                defer { output.flush() }
                let encoder = JSONPacketEncoder(output: output)
                if json.isEmpty {
                    try MQTTStreams.forEachStandardInputPiece { piece in
                        try encoder.feed(piece)
                        output.flush()  // what this piece completed goes out before the next read waits
                    }
                    try encoder.finish()
                } else {
                    for (index, argument) in json.enumerated() {
                        let value: JSONValue
                        do throws(JSONSyntaxError) {
                            value = try JSONParser.parse(argument)
                        } catch {
                            throw InspectorError("argument \(index + 1): invalid JSON at character \(error.offset + 1): \(error.message)")
                        }
                        try encoder.encode(value)
                    }
                }
            }
        }
    }
}

extension MQTTCommand {
    struct Rule: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the words of MQTT rules by number, as a firmware console reports them.",
            discussion: """
                A firmware reports a malformed packet as "MQTT rule N at byte B" so that it need \
                not carry the texts. This prints each rule N given, or every rule when none is, \
                as "N words" lines. A number no rule has is an error (exit code 1).
                """
        )

        @Argument(help: "Rule numbers, e.g. 12.")
        var codes: [String] = []

        func run() throws {
            try Console.run {
                let known = MQTTRule.codes
                if codes.isEmpty {
                    for code in known { Output.line("\(code) \(MQTTRule.summary(code: code)!)") }
                    return
                }
                for argument in codes {
                    guard let code = UInt8(argument), let words = MQTTRule.summary(code: code) else {
                        throw InspectorError("no MQTT rule has the number '\(argument)': the rules are \(known.lowerBound) to \(known.upperBound)")
                    }
                    Output.line("\(code) \(words)")
                }
            }
        }
    }
}

/// Errors of the inspector subcommands.
enum Console {
    /// Runs `body`; an `InspectorError` becomes `error: …` on standard error and exit code 1.
    static func run(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as InspectorError {
            Output.error(error.message)
            throw ExitCode(1)
        }
    }
}
