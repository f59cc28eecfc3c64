import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

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
    static func parse(_ data: Data) throws(S3Error) -> ParsedElement {
        let delegate = TreeBuilder()
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        // Linux's XMLParser accepts a document whose root is never closed: require that every element closed.
        guard parser.parse(), delegate.stack.isEmpty, let root = delegate.root else {
            throw S3Error.malformedXML
        }
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

    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var root: ParsedElement?
        var stack: [ParsedElement] = []

        func parser(
            _ parser: XMLParser,
            didStartElement elementName: String,
            namespaceURI: String?,
            qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            let element = ParsedElement(name: elementName)
            if let parent = stack.last { parent.children.append(element) } else { root = element }
            stack.append(element)
        }

        func parser(
            _ parser: XMLParser,
            didEndElement elementName: String,
            namespaceURI: String?,
            qualifiedName: String?
        ) {
            stack.removeLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.text += string
        }
    }
}
