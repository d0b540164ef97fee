import XCTest
@testable import LMProtocol
