#if canImport(Glibc)
import Glibc
#endif

/// The environment variables the options fall back to: the process's own, or given ones (the
/// fuzz target `options`).
struct Environment {
    private let lookup: (String) -> String?

    /// The process's environment, read when asked.
    static var process: Environment { Environment { name in getenv(name).map { String(cString: $0) } } }

    /// Exactly `variables`.
    init(_ variables: [String: String]) {
        lookup = { variables[$0] }
    }

    private init(lookup: @escaping (String) -> String?) {
        self.lookup = lookup
    }

    /// The variable's value, or `nil` when it is not set.
    subscript(name: String) -> String? { lookup(name) }
}
