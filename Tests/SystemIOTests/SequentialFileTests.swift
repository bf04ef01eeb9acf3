import SystemIO
import TestSupport
import Testing

@Suite struct SequentialFileTests {
    @Test func fileInAMissingDirectoryIsAnIOError() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("missing/events")
        #expect(
            throws: SystemIOError.io(
                path: path, operation: "create", reason: "No such file or directory")
        ) {
            _ = try SequentialFile(creatingNew: path)
        }
        #expect(
            SystemIOError.io(path: path, operation: "create", reason: "No such file or directory")
                .description == "\(path): cannot create: No such file or directory")
    }

    @Test func creatingNewRefusesAnExistingNameAndReplacingEmptiesIt() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("caption.txt")
        var first = Array("first line\n".utf8)
        guard let file = try SequentialFile(creatingNew: path) else {
            Issue.record("\(path) exists already")
            return
        }
        try file.drain(&first)
        #expect(first.isEmpty)
        let refused = try SequentialFile(creatingNew: path) == nil
        #expect(refused)
        var second = Array("2\n".utf8)
        try SequentialFile(replacing: path).drain(&second)
        #expect(try FileContents.read(path) == Array("2\n".utf8))
    }
}
