import DeviceCore
import DeviceCoreWords
import Foundation
import Testing

@Suite struct Base64Tests {
    func encoded(_ input: [UInt8]) -> String {
        written(capacity: 1024) { Base64.encode(view(input), into: &$0) }.value!
    }

    func decoded(_ input: String, capacity: Int = 1024) -> Result<[UInt8], Base64Error> {
        do throws(Base64Error) {
            return .success(bytes(try Base64.decode(view(input), into: buffer(capacity))))
        } catch {
            return .failure(error)
        }
    }

    static let rfc4648: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    @Test(arguments: rfc4648)
    func rfc4648Vectors(plain: String, encoding: String) {
        #expect(encoded(Array(plain.utf8)) == encoding)
        #expect(decoded(encoding) == .success(Array(plain.utf8)))
        #expect(Base64.encodedCount(plain.utf8.count) == encoding.utf8.count)
    }

    @Test func allByteValuesAgreeWithFoundation() {
        let all = (0...255).map { UInt8($0) }
        for length in [0, 1, 2, 3, 31, 32, 33, 64, 255, 256] {
            let input = Array(all.prefix(length).reversed())
            let expected = Data(input).base64EncodedString()
            #expect(encoded(input) == expected)
            #expect(decoded(expected) == .success(input))
        }
        #expect(encoded([0xFB, 0xFF, 0xBF]) == "+/+/")
    }

    @Test func sasKey() {
        // A 32-byte symmetric key as the portal shows it.
        let key = "rL+DYN6kDWtsWK6Q4xl2hTrFJpfUvW8mNdbuHuHJYmE="
        let result = decoded(key)
        #expect(result.value == Array(Data(base64Encoded: key)!))
        #expect(result.value?.count == 32)
        #expect(result.value.map(encoded) == key)
    }

    @Test func errors() {
        #expect(decoded("Zg=").failure == Base64Error(kind: .invalidLength, offset: 3))
        #expect(decoded("Zg").failure == Base64Error(kind: .invalidLength, offset: 2))
        #expect(decoded("Zm9vY").failure == Base64Error(kind: .invalidLength, offset: 5))
        #expect(decoded("Zm9v!").failure == Base64Error(kind: .invalidCharacter, offset: 4))
        #expect(decoded("Zm 9v").failure == Base64Error(kind: .invalidCharacter, offset: 2))
        #expect(decoded("Zm9v\n").failure == Base64Error(kind: .invalidCharacter, offset: 4))
        #expect(decoded("Zm9-").failure == Base64Error(kind: .invalidCharacter, offset: 3))  // URL alphabet
        #expect(decoded("Zm9_").failure == Base64Error(kind: .invalidCharacter, offset: 3))
        #expect(decoded("Z===").failure == Base64Error(kind: .invalidPadding, offset: 1))
        #expect(decoded("====").failure == Base64Error(kind: .invalidPadding, offset: 0))
        #expect(decoded("=Zg=").failure == Base64Error(kind: .invalidPadding, offset: 0))
        #expect(decoded("Zg=a").failure == Base64Error(kind: .invalidPadding, offset: 3))
        #expect(decoded("Zg==Zg==").failure == Base64Error(kind: .invalidPadding, offset: 2))
        #expect(decoded("Zm9=Zm9v").failure == Base64Error(kind: .invalidPadding, offset: 3))
        #expect(decoded("Zh==").failure == Base64Error(kind: .nonZeroTrailingBits, offset: 1))
        #expect(decoded("Zm9=").failure == Base64Error(kind: .nonZeroTrailingBits, offset: 2))
        #expect(decoded("Zm9vYmFy", capacity: 5).failure == Base64Error(kind: .bufferTooSmall(BufferTooSmall(needed: 6, capacity: 5)), offset: 0))
        #expect(decoded("Zm9vYg==", capacity: 3).failure == Base64Error(kind: .bufferTooSmall(BufferTooSmall(needed: 4, capacity: 3)), offset: 0))
        #expect(decoded("Zm9vYg==", capacity: 4) == .success(Array("foob".utf8)))
        let kinds: [Base64Error.Kind] = [.invalidCharacter, .invalidPadding, .invalidLength, .nonZeroTrailingBits, .bufferTooSmall(BufferTooSmall(needed: 1, capacity: 0))]
        #expect(Set(kinds.map { Base64Error(kind: $0, offset: 0).summary.description }).count == kinds.count)
    }

    @Test func decodesInPlace() throws {
        let input = "Zm9vYmFyYmF6"
        let memory = buffer(input.utf8.count)
        memory.copyBytes(from: Array(input.utf8))
        let out = try Base64.decode(ByteView(UnsafeRawBufferPointer(memory)), into: memory)
        #expect(text(out) == "foobarbaz")
    }

    @Test func encodeOverflow() {
        #expect(written(capacity: 4) { Base64.encode(view("foobar"), into: &$0) } == .failure(BufferTooSmall(needed: 8, capacity: 4)))
    }
}
