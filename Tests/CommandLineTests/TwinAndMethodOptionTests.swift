@testable import DeviceCommandLine
import Testing

/// `run`'s twin and method options: what is accepted, what is refused with which words, and
/// what a `--method` command's ending answers.
@Suite("dps-device run: twin and method options")
struct TwinAndMethodOptionTests {
    let base = ["--id-scope", "0ne00000DEMO", "--cert", "d.pem", "--key", "d.key"]

    func configure(_ extra: [String]) throws(UsageError) -> CommandConfiguration {
        try CommandConfiguration(.run, arguments: ArraySlice(base + extra), environment: Environment([:]))
    }

    func refusal(_ extra: [String]) -> String? {
        do throws(UsageError) { _ = try configure(extra); return nil } catch { return error.message }
    }

    @Test func repeatableOptionsKeepEveryValueInOrder() throws {
        guard case .run(let options, let run) = try configure([
            "--report", #"{"a":1}"#, "--method", "reboot=sudo reboot", "--report", #"{"b":2}"#, "--method=echo=cat",
            "--on-desired", "ack.sh", "--model-id", "dtmi:com:example:Thermostat;1", "--payload", #"{"site":"north"}"#,
        ]) else { Issue.record("not a run"); return }
        #expect(run.reports == [#"{"a":1}"#, #"{"b":2}"#])
        #expect(run.hubFeatures == HubFeaturePlan(reports: [#"{"a":1}"#, #"{"b":2}"#], methods: ["reboot": "sudo reboot", "echo": "cat"], onDesired: "ack.sh"))
        #expect(options.modelID == "dtmi:com:example:Thermostat;1")
        #expect(options.payload == #"{"modelId":"dtmi:com:example:Thermostat;1","site":"north"}"#)
    }

    @Test func plainRunsServeNothingButADurationServesMethods() throws {
        guard case .run(let options, let plain) = try configure([]), case .run(_, let staying) = try configure(["--duration", "5"]) else {
            Issue.record("not a run"); return
        }
        #expect(plain.hubFeatures == nil)
        #expect(options.payload == nil)
        #expect(staying.hubFeatures == HubFeaturePlan(reports: [], methods: [:], onDesired: nil))
        guard case .run(let withModel, _) = try configure(["--model-id", "dtmi:a:b;2"]) else { return }
        #expect(withModel.payload == #"{"modelId":"dtmi:a:b;2"}"#)
    }

    @Test("Refusals", arguments: [
        (["--report", "[1]"], #"--report must be a JSON object of reported properties, e.g. '{"firmware": "1.2"}'; got an array"#),
        (["--report", "{"], "--report is not valid JSON: expected a string key, found end of input at byte 1"),
        (["--report", #"{"$version":1}"#], #"--report has "$version": names starting with $ are IoT Hub's own"#),
        (["--method", "reboot"], #"--method "reboot" is not NAME=COMMAND"#),
        (["--method", "reboot="], "--method reboot= has no command: pass NAME=COMMAND"),
        (["--method", "a/b=x"], #"--method "a/b=x": the method name must be non-empty, without / + # ? or spaces"#),
        (["--method", "=x"], #"--method "=x": the method name must be non-empty, without / + # ? or spaces"#),
        (["--method", "a=x", "--method", "a=y"], "--method a is given twice: one command per method"),
        (["--on-desired", ""], "--on-desired is empty: pass the command that takes the desired properties"),
        (["--model-id", "com:example;1"], #"--model-id "com:example;1" is not a DTMI: it must start with dtmi:, e.g. dtmi:com:example:Thermostat;1"#),
        (["--model-id", "dtmi:com:example"], #"--model-id "dtmi:com:example" has no version: end it with ;1 (or the model's version)"#),
        (["--model-id", "dtmi:com:example;01"], #"--model-id "dtmi:com:example;01" has the version "01": it must be 1 to 9 digits without a leading zero"#),
        (["--model-id", "dtmi:com:9lives;1"], #"--model-id "dtmi:com:9lives;1" has the path segment "9lives": segments are letters, digits and _, start with a letter and do not end with _"#),
        (["--model-id", ""], "--model-id is empty: give a value, or leave the option out"),
        (["--model-id", "dtmi:a:b;1", "--payload", "[1]"], #"--payload must be a JSON object with --model-id: the model id joins its members ("payload": {"modelId": …, …})"#),
        (["--model-id", "dtmi:a:b;1", "--payload", #"{"modelId":"x"}"#], "--payload has a modelId and --model-id gives one too: give the model id once, with --model-id"),
    ] as [([String], String)])
    func refused(_ extra: [String], _ message: String) {
        #expect(refusal(extra) == message)
    }

    @Test func methodCommandEndings() {
        let device = "device1"
        #expect(MethodCommand(command: "cat").answer(method: "echo", deviceID: device, payload: Array(#"{"x":1}"#.utf8)) == (200, #"{"x":1}"#))
        #expect(MethodCommand(command: "true").answer(method: "m", deviceID: device, payload: []) == (200, "null"))
        #expect(MethodCommand(command: #"echo "\"$METHOD_NAME@$DEVICE_ID\"""#).answer(method: "reboot", deviceID: device, payload: []) == (200, #""reboot@device1""#))
        #expect(MethodCommand(command: "echo oops >&2; exit 2").answer(method: "m", deviceID: device, payload: []) == (500, #"{"error":"oops"}"#))
        #expect(MethodCommand(command: "exit 7").answer(method: "m", deviceID: device, payload: []) == (500, #"{"error":"the command exited with status 7"}"#))
        #expect(MethodCommand(command: "echo not json").answer(method: "m", deviceID: device, payload: []).status == 500)
        var slow = MethodCommand(command: "sleep 5")
        slow.timeoutMilliseconds = 200
        #expect(slow.answer(method: "m", deviceID: device, payload: []) == (504, #"{"error":"the command ran past 0.2 s and was killed"}"#))
    }
}
