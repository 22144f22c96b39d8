/// How `provision` and `run` write their events (`--log-format`).
enum LogFormat: String, CaseIterable {
    /// One line of words per event, like the walkthrough's script (journald adds the time).
    case text
    /// One JSON object per line: `step`, `time` (RFC 3339 UTC) and the event's fields.
    case json
}
