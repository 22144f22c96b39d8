import HostJSON
import Testing

@Suite("String.trimmingJSONWhitespace")
struct JSONWhitespaceTests {
    @Test(arguments: [
        ("{\"a\": 1}\n", "{\"a\": 1}"),
        (" \t\r\n[1, 2]\r\n ", "[1, 2]"),
        ("\"x y\"", "\"x y\""),
        ("   ", ""),
        ("", ""),
        ("\u{A0}1\u{A0}", "\u{A0}1\u{A0}"),  // no-break space is not JSON whitespace
    ])
    func onlyJSONWhitespaceAroundTheTextGoes(text: String, trimmed: String) {
        #expect(String(text.trimmingJSONWhitespace) == trimmed)
    }
}
