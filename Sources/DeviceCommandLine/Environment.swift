/// The environment variables the options fall back to: the process's own, or given ones (the
/// fuzz target `options`).
struct Environment {
    private let lookup: (String) -> Result<String, UsageError>?

    /// The process's environment, read when asked; a value that is not UTF-8 is a problem
    /// (`problem(_:)`), never a value with replacement characters.
    static var process: Environment { Environment(lookup: ArgumentBytes.environment) }

    /// Exactly `variables`.
    init(_ variables: [String: String]) {
        lookup = { variables[$0].map { .success($0) } }
    }

    private init(lookup: @escaping (String) -> Result<String, UsageError>?) {
        self.lookup = lookup
    }

    /// The variable's value, or `nil` when it is not set, empty or not UTF-8.
    subscript(name: String) -> String? {
        if case .success(let value)? = lookup(name) { return value }
        return nil
    }

    /// Why the variable's value cannot be used (it is not UTF-8), or `nil`.
    func problem(_ name: String) -> String? {
        if case .failure(let error)? = lookup(name) { return error.message }
        return nil
    }
}
