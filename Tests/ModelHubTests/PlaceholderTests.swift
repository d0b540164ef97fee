import XCTest

final class PlaceholderTests: XCTestCase {
    func testFixturesPresent() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(#filePath)"))
    }
}
