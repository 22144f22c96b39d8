import StandIn
import Testing

/// The stand-in's identifiers have the shapes Azure's have.
@Suite("RandomIdentifiers: the stand-in's ids")
struct RandomIdentifierTests {
    @Test func uuidsAreVersion4InLowercase() {
        for _ in 0..<50 {
            let uuid = RandomIdentifiers.uuid()
            let groups = uuid.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            #expect(groups.map(\.count) == [8, 4, 4, 4, 12], "\(uuid)")
            #expect(uuid.allSatisfy { "0123456789abcdef-".contains($0) }, "\(uuid)")
            #expect(groups[2].first == "4", "version nibble in \(uuid)")
            #expect("89ab".contains(groups[3].first!), "variant nibble in \(uuid)")
        }
        #expect(RandomIdentifiers.uuid() != RandomIdentifiers.uuid())
    }

    @Test func hexHasTwoDigitsAByteInTheCaseAskedFor() {
        let upper = RandomIdentifiers.hex(byteCount: 24, uppercase: true)
        #expect(upper.count == 48 && upper.allSatisfy { "0123456789ABCDEF".contains($0) }, "\(upper)")
        let lower = RandomIdentifiers.hex(byteCount: 8)
        #expect(lower.count == 16 && lower.allSatisfy { "0123456789abcdef".contains($0) }, "\(lower)")
    }
}
