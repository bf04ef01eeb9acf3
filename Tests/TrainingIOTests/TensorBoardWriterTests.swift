import Foundation
import SafeTensors
import SystemIO
import TestSupport
import Testing

@testable import TrainingIO

/// Event files: CRC-32C against published vectors, masked CRCs against TensorBoard's own
/// `masked_crc32c`, protobuf encodings against the specification's examples, and written files
/// parsed back record by record.
@Suite struct TensorBoardWriterTests {
    /// RFC 3720 §B.4 and the CRC catalogue's check value.
    static let crcVectors: [([UInt8], UInt32)] = [
        (Array("123456789".utf8), 0xE306_9283),
        ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ((0..<32).map { UInt8($0) }, 0x46DD_794E),
        ((0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
    ]

    @Test(arguments: crcVectors)
    func crc32cMatchesPublishedVectors(bytes: [UInt8], expected: UInt32) {
        #expect(CRC32C.checksum(bytes) == expected)
    }

    @Test func crc32cIsTheSameInPieces() {
        var crc = CRC32C()
        crc.update(Array("1234".utf8))
        crc.update(Array("56789".utf8))
        #expect(crc.value == 0xE306_9283)
    }

    /// From tensorboard 2.21's `compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c`.
    static let maskedVectors: [([UInt8], UInt32)] = [
        (Array("123456789".utf8), 0xC78A_B0E5),
        ([24, 0, 0, 0, 0, 0, 0, 0], 0x224B_7FA3),
        ([], 0xA282_EAD8),
    ]

    @Test(arguments: maskedVectors)
    func maskedCRCMatchesTensorBoard(bytes: [UInt8], expected: UInt32) {
        #expect(CRC32C.masked(CRC32C.checksum(bytes)) == expected)
    }

    /// protobuf.dev's encoding guide: field 1 = 150 is `08 96 01`; -1 as int64 takes ten bytes.
    @Test func protobufEncodesTheGuideExamples() {
        var message = ProtobufMessage()
        message.int64(1, 150)
        #expect(message.bytes == [0x08, 0x96, 0x01])

        message = ProtobufMessage()
        message.int64(2, -1)
        #expect(message.bytes == [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01])

        message = ProtobufMessage()
        message.string(2, "testing")
        #expect(message.bytes == [0x12, 0x07] + Array("testing".utf8))

        message = ProtobufMessage()
        message.double(1, 1.0)
        message.float(2, 1.0)
        #expect(message.bytes == [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x15, 0, 0, 0x80, 0x3F])
    }

    @Test func framingPutsLengthCRCPayloadCRC() {
        let record = TFRecord.frame(Array("123456789".utf8))
        #expect(Array(record[0..<8]) == [9, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(record[8..<12]) == le32(CRC32C.masked(CRC32C.checksum(record[0..<8]))))
        #expect(Array(record[12..<21]) == Array("123456789".utf8))
        #expect(Array(record[21..<25]) == le32(0xC78A_B0E5))
    }

    @Test func writtenFileReadsBackEventByEvent() throws {
        let directory = TemporaryDirectory()
        let logs = directory.file("logs/run")  // created with its parent
        let writer = try TensorBoardWriter(
            directory: logs, wallTime: 1_700_000_000.25, hostname: "testhost")
        #expect(writer.path == logs + "/events.out.tfevents.1700000000.testhost")
        writer.scalar(tag: KohyaScalarTag.currentLoss, value: Float(0.5), step: 1, wallTime: 10)
        writer.scalar(tag: KohyaScalarTag.unetLearningRate, value: 1e-4, step: 1, wallTime: 10)
        try writer.flush()
        writer.scalar(tag: KohyaScalarTag.epochLoss, value: Float.nan, step: 2, wallTime: 11.5)
        try writer.flush()

        let events = try EventFileReader.events(in: writer.path)
        try #require(events.count == 4)
        #expect(events[0] == .init(wallTime: 1_700_000_000.25, fileVersion: "brain.Event:2"))
        #expect(events[1] == .init(wallTime: 10, step: 1, tag: "loss/current", value: 0.5))
        #expect(events[2] == .init(wallTime: 10, step: 1, tag: "lr/unet", value: Float(1e-4)))
        #expect(events[3].tag == "loss/epoch" && events[3].step == 2 && events[3].value!.isNaN)
    }

    @Test func scalarsWaitForFlush() throws {
        let directory = TemporaryDirectory()
        let writer = try TensorBoardWriter(directory: directory.path, hostname: "h")
        let headerOnly = try Data(contentsOf: URL(fileURLWithPath: writer.path)).count
        writer.scalar(tag: "a", value: 1.0, step: 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: writer.path)).count == headerOnly)
        try writer.flush()
        #expect(try EventFileReader.events(in: writer.path).count == 2)
    }

    @Test func droppedWriterStillWritesItsScalars() throws {
        let directory = TemporaryDirectory()
        var path = ""
        do {
            let writer = try TensorBoardWriter(directory: directory.path, hostname: "h")
            writer.scalar(tag: "a", value: 1.0, step: 3)
            path = writer.path
        }
        let events = try EventFileReader.events(in: path)
        #expect(events.count == 2 && events[1].step == 3)
    }

    @Test func sameSecondAndHostGetsANumberedName() throws {
        let directory = TemporaryDirectory()
        let first = try TensorBoardWriter(directory: directory.path, wallTime: 5, hostname: "h")
        let second = try TensorBoardWriter(directory: directory.path, wallTime: 5.9, hostname: "h")
        #expect(first.path == directory.path + "/events.out.tfevents.5.h")
        #expect(second.path == directory.path + "/events.out.tfevents.5.h.1")
    }

    @Test func directoryUnderAFileIsAnErrorNamingIt() throws {
        let directory = TemporaryDirectory()
        try Data().write(to: URL(fileURLWithPath: directory.file("plain")))
        #expect {
            _ = try TensorBoardWriter(directory: directory.file("plain/logs"), hostname: "h")
        } throws: { error in
            "\(error)".hasPrefix(directory.file("plain")) && "\(error)".contains("Not a directory")
        }
    }

    private func le32(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}

/// A reader for what the writer produces, written from the format descriptions alone: it checks
/// both CRCs of every record and decodes the few Event fields.
enum EventFileReader {
    struct Event: Equatable {
        var wallTime: Double
        var step: Int64 = 0
        var fileVersion: String?
        var tag: String?
        var value: Float?
    }

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    static func events(in path: String) throws -> [Event] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var offset = 0
        var events: [Event] = []
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else { throw Malformed(description: "short header") }
            let length = Int(littleEndian(bytes[offset..<offset + 8]))
            guard
                UInt32(littleEndian(bytes[offset + 8..<offset + 12]))
                    == CRC32C.masked(CRC32C.checksum(bytes[offset..<offset + 8]))
            else { throw Malformed(description: "length CRC at \(offset)") }
            let start = offset + 12
            guard start + length + 4 <= bytes.count else { throw Malformed(description: "short") }
            let payload = bytes[start..<start + length]
            guard
                UInt32(littleEndian(bytes[start + length..<start + length + 4]))
                    == CRC32C.masked(CRC32C.checksum(payload))
            else { throw Malformed(description: "payload CRC at \(offset)") }
            events.append(try event(Array(payload)))
            offset = start + length + 4
        }
        return events
    }

    private static func event(_ bytes: [UInt8]) throws -> Event {
        var event = Event(wallTime: .nan)
        for (field, value) in try fields(bytes) {
            switch (field, value) {
            case (1, .fixed64(let bits)): event.wallTime = Double(bitPattern: bits)
            case (2, .varint(let step)): event.step = Int64(bitPattern: step)
            case (3, .bytes(let text)): event.fileVersion = String(decoding: text, as: UTF8.self)
            case (5, .bytes(let summary)):
                for case (1, .bytes(let entry)) in try fields(summary) {
                    for (entryField, entryValue) in try fields(entry) {
                        switch (entryField, entryValue) {
                        case (1, .bytes(let tag)): event.tag = String(decoding: tag, as: UTF8.self)
                        case (2, .fixed32(let bits)): event.value = Float(bitPattern: bits)
                        default: throw Malformed(description: "value field \(entryField)")
                        }
                    }
                }
            default: throw Malformed(description: "event field \(field)")
            }
        }
        return event
    }

    enum FieldValue {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        case bytes([UInt8])
    }

    private static func fields(_ bytes: [UInt8]) throws -> [(Int, FieldValue)] {
        var index = 0
        func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard index < bytes.count, shift < 64 else {
                    throw Malformed(description: "varint")
                }
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }
        func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard index + count <= bytes.count else { throw Malformed(description: "truncated") }
            defer { index += count }
            return bytes[index..<index + count]
        }
        var result: [(Int, FieldValue)] = []
        while index < bytes.count {
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: result.append((field, .varint(try varint())))
            case 1: result.append((field, .fixed64(littleEndian(try take(8)))))
            case 2: result.append((field, .bytes(Array(try take(Int(try varint()))))))
            case 5: result.append((field, .fixed32(UInt32(littleEndian(try take(4))))))
            default: throw Malformed(description: "wire type \(key & 7)")
            }
        }
        return result
    }

    private static func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}
