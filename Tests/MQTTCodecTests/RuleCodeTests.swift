import DeviceCore
import DeviceCoreWords
import Testing

/// A firmware console reports a broken rule by number; the numbers never change and each gives
/// back the same words the host tools print.
@Suite("MQTT rule numbers")
struct RuleCodeTests {
    /// One rule of each shape (no payload, one, two), at fixed numbers.
    @Test func numbersAreFixed() {
        #expect(MQTTRule.reservedPacketType(0).code == 1)
        #expect(MQTTRule.invalidFixedHeaderFlags(type: 3, flags: 6).code == 2)
        #expect(MQTTRule.wildcardInTopicName.code == 12)
        #expect(MQTTRule.unsupportedProtocolLevel(3).code == 19)
        #expect(MQTTRule.invalidSubackReturnCode(3).code == 30)
        #expect(MQTTRule.packetTooLarge(size: 9).code == 31)
        #expect(MQTTRule.codes == 1...31)
    }

    @Test func everyNumberHasWordsAndNoOtherNumberDoes() {
        for code in MQTTRule.codes {
            #expect(MQTTRule.summary(code: code).map { "\($0)".isEmpty } == false, "rule \(code)")
        }
        #expect(MQTTRule.summary(code: 0) == nil)
        #expect(MQTTRule.summary(code: 32) == nil)
        #expect(MQTTRule.summary(code: 255) == nil)
        #expect(MQTTRule.summary(code: 12).map { "\($0)" } == "topic name contains a wildcard + or # (MQTT-3.3.2-2)")
    }

    @Test func aRulesWordsAreItsNumbersWords() {
        let rules: [MQTTRule] = [.malformedRemainingLength, .invalidUTF8, .zeroPacketIdentifier, .sessionPresentWithRefusal, .trailingBytes(count: 2)]
        for rule in rules {
            #expect("\(rule.summary)" == MQTTRule.summary(code: rule.code).map { "\($0)" })
        }
        #expect(Set(rules.map(\.code)).count == rules.count)
    }
}
