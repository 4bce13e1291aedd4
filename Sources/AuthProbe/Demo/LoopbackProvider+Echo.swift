import Foundation

extension LoopbackProvider {
    /// The answer reflecting the client secret of `request` in `form` (see ``EchoForm``).
    static func echo(_ form: EchoForm, request: ReceivedRequest) throws -> FakeResponse {
        let fields = FormEncoding.decode(request.body)
        let received = Self.credentials(authorization: request.header("Authorization"), fields: fields)
        let id = received?.id ?? ""
        let secret = received?.secret ?? ""
        let marker = EchoForm.marker
        func described(_ text: String) throws -> FakeResponse {
            let document = ["error": "invalid_client", "error_description": "\(marker)[\(text)]"]
            return .raw(
                status: 401,
                headers: [("Content-Type", "application/json")],
                body: Array(try JSONSerialization.data(withJSONObject: document))
            )
        }
        func percent(_ text: String, _ format: String) -> String {
            text.utf8.map { byte in
                let ascii = (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                return ascii ? String(UnicodeScalar(byte)) : String(format: format, UInt32(byte))
            }.joined()
        }
        let token = #""access_token":"echo-access-token-8d2c""#
        switch form {
        case .description:
            return try described(secret)
        case .jsonUnicodeEscapes:
            var escaped = ""
            for scalar in secret.unicodeScalars {
                switch scalar {
                case "\"": escaped += "\\\""
                case "\\": escaped += "\\\\"
                default:
                    if scalar.value < 0x20 || scalar.value > 0x7E {
                        for unit in String(scalar).utf16 { escaped += String(format: "\\u%04x", UInt32(unit)) }
                    } else {
                        escaped.unicodeScalars.append(scalar)
                    }
                }
            }
            return .json(401, #"{"error":"invalid_client","error_description":"\#(marker)[\#(escaped)]"}"#)
        case .splitByNewline:
            let half = secret.index(secret.startIndex, offsetBy: secret.count / 2)
            return try described("\(secret[..<half])\n\(secret[half...])")
        case .locationHeader:
            let encoded = percent(secret, "%%%02X")
            return .raw(
                status: 302,
                headers: [("Location", "http://127.0.0.1:1/\(marker)/\(encoded)?client_secret=\(encoded)")],
                body: []
            )
        case .tokenType:
            let value = String(
                decoding: try JSONSerialization.data(withJSONObject: ["\(marker)[\(secret)]"]),
                as: UTF8.self
            )
            return .json(200, #"{\#(token),"token_type":\#(value.dropFirst().dropLast()),"expires_in":300}"#)
        case .expiresIn:
            let value = String(
                decoding: try JSONSerialization.data(withJSONObject: ["\(marker)[\(secret)]"]),
                as: UTF8.self
            )
            return .json(200, #"{\#(token),"token_type":"Bearer","expires_in":\#(value.dropFirst().dropLast())}"#)
        case .lowercasePercent:
            return try described(percent(secret, "%%%02x"))
        case .base64:
            return try described(Data(secret.utf8).base64EncodedString())
        case .base64IDAndSecret:
            return try described(Data("\(id):\(secret)".utf8).base64EncodedString())
        case .base64URL:
            let base64 = Data(secret.utf8).base64EncodedString()
            return try described(
                base64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                    .replacingOccurrences(of: "=", with: "")
            )
        }
    }
}
