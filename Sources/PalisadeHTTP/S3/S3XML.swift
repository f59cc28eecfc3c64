import Foundation

/// The XML of S3 responses and request bodies.
enum S3XML {
    /// An XML element: text, or children.
    indirect enum Node {
        case text(String, String)
        case element(String, [Node])

        func render(into output: inout String) {
            switch self {
            case .text(let name, let value):
                output += "<\(name)>\(escape(value))</\(name)>"
            case .element(let name, let children):
                output += "<\(name)>"
                for child in children { child.render(into: &output) }
                output += "</\(name)>"
            }
        }
    }

    static let namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

    /// A whole document with root `name`, in the S3 namespace unless `namespaced` is false (errors).
    static func document(_ name: String, _ children: [Node], namespaced: Bool = true) -> String {
        let attributes = namespaced ? " xmlns=\"\(namespace)\"" : ""
        var output = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(name)\(attributes)>"
        for child in children { child.render(into: &output) }
        return output + "</\(name)>"
    }

    static func escape(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&quot;"
            case "'": output += "&apos;"
            case _ where scalar.value < 0x20 && scalar != "\n" && scalar != "\t" && scalar != "\r":
                output += "&#\(scalar.value);"
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    /// Parses a request body into a tree of (element name, text, children).
    /// The root element of an S3 request body (``S3XMLReader``).
    /// - Throws: `MalformedXML` when the body is not a well-formed UTF-8 document.
    static func parse(_ data: Data) throws(S3Error) -> ParsedElement {
        guard let root = S3XMLReader.parse(Array(data)) else { throw S3Error.malformedXML }
        return root
    }

    /// A parsed element.
    final class ParsedElement {
        let name: String
        var text = ""
        var children: [ParsedElement] = []

        init(name: String) { self.name = name }

        func child(_ name: String) -> ParsedElement? { children.first { $0.name == name } }
        func all(_ name: String) -> [ParsedElement] { children.filter { $0.name == name } }
    }
}
