/// One option of a command: its spellings, the name of its value (`nil` for a flag) and a line
/// of help.
struct OptionSpec {
    let names: [String]
    let valueName: String?
    let help: String
    /// Each occurrence adds a value (`--report`, `--method`) instead of replacing the last.
    let repeatable: Bool

    init(_ names: String..., value: String? = nil, repeatable: Bool = false, help: String) {
        self.names = names
        self.valueName = value
        self.repeatable = repeatable
        self.help = help
    }

    var primaryName: String { names[0] }
}

/// A usage mistake: the words after `Error: `; the command exits 64 with its usage line.
public struct UsageError: Error, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// The options given on the command line, by their first spelling. A repeated option keeps its
/// last value, as with most Unix tools, unless it is `repeatable`: then it keeps them all.
struct ParsedOptions {
    private(set) var values: [String: String] = [:]
    private(set) var lists: [String: [String]] = [:]
    private(set) var flags: Set<String> = []
    /// `-h` or `--help` was given.
    private(set) var wantsHelp = false

    /// Reads `arguments` against `specs`: `--name value`, `--name=value`, flags, `-h/--help`.
    /// A value is the next argument whatever it looks like, so `--timeout -5` reaches the
    /// range check (and its message) instead of being taken for an unknown option.
    init(_ arguments: ArraySlice<String>, specs: [OptionSpec]) throws(UsageError) {
        var rest = arguments
        while let argument = rest.popFirst() {
            if argument == "-h" || argument == "--help" {
                wantsHelp = true
                continue
            }
            guard argument.hasPrefix("--") else {
                throw UsageError("Unexpected argument '\(argument)': options start with --, see --help")
            }
            var name = argument
            var inline: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            guard let spec = specs.first(where: { $0.names.contains(name) }) else {
                throw UsageError("Unknown option '\(name)'")
            }
            guard spec.valueName != nil else {
                if inline != nil { throw UsageError("The flag '\(name)' takes no value") }
                flags.insert(spec.primaryName)
                continue
            }
            guard let value = inline ?? rest.popFirst() else {
                throw UsageError("Missing value for '\(name) <\(spec.valueName!)>'")
            }
            values[spec.primaryName] = value
            if spec.repeatable { lists[spec.primaryName, default: []].append(value) }
        }
    }

    func string(_ name: String) -> String? { values[name] }

    /// Every value of a repeatable option, in order.
    func strings(_ name: String) -> [String] { lists[name] ?? [] }

    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The value of `name` read by `read`, or `fallback` when it was not given.
    func value<T>(_ name: String, default fallback: T, expected: String, _ read: (String) -> T?) throws(UsageError) -> T {
        guard let text = values[name] else { return fallback }
        guard let value = read(text) else { throw UsageError("The value '\(text)' is invalid for '\(name)': expected \(expected)") }
        return value
    }
}

/// The help page of a command, as `dps-device help COMMAND` and `--help` print it.
struct CommandHelp {
    let name: String
    let abstract: String
    let discussion: String
    let specs: [OptionSpec]

    var usage: String { "Usage: dps-device \(name) [<options>]\n  See 'dps-device help \(name)' for more information." }

    var text: String {
        var out = "OVERVIEW: \(abstract)\n\n"
        if !discussion.isEmpty { out += Self.wrap(discussion, width: 80, indent: "") + "\n\n" }
        out += "USAGE: dps-device \(name) [<options>]\n\nOPTIONS:\n"
        let rows = specs.map { spec in
            (spec.names.joined(separator: ", ") + (spec.valueName.map { " <\($0)>" } ?? "") + (spec.repeatable ? " ..." : ""), spec.help)
        } + [("-h, --help", "Show help information.")]
        for (left, help) in rows {
            out += "  \(left)\n" + Self.wrap(help, width: 80, indent: "        ") + "\n"
        }
        return out
    }

    /// `text` broken into lines of at most `width` characters, each starting with `indent`.
    static func wrap(_ text: String, width: Int, indent: String) -> String {
        var lines: [String] = []
        var line = indent
        for word in text.split(separator: " ") {
            if line.count > indent.count && line.count + 1 + word.count > width {
                lines.append(line)
                line = indent
            }
            line += (line.count > indent.count ? " " : "") + word
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }
}
