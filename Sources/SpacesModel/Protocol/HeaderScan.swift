/// A one-pass reader of a plain request line's header, for the server's hot path.
///
/// Foundation's decoder parses the whole line to read the header and then again to read the
/// params. This reads the header of an ordinary request (an object with `jsonrpc`, `id`,
/// `method` and `params`; plain strings and whole-number ids) in one pass that also checks the
/// line is valid JSON, and finds where `params` lies, so only the params are decoded by
/// Foundation. Anything else — escapes in the header's strings, a duplicate member, `result`
/// or `error`, a number id with a fraction, a line nested deeper than 64 levels, invalid
/// UTF-8 — gives nil, and the line takes Foundation's path, which reads it (or explains what
/// is wrong) as before.
package struct HeaderScan {
  /// The header, as ``MessageHeader`` would have read it.
  package var header: MessageHeader
  /// Where the value of `params` lies in the line, when it is an object.
  package var params: Range<Int>?

  /// Reads `line` (one line without its newline); nil when it takes Foundation's path.
  package static func scan(_ line: UnsafeRawBufferPointer) -> HeaderScan? {
    var scanner = JSONScanner(bytes: line)
    return scanner.request()
  }
}

extension JSONScanner {
  fileprivate mutating func request() -> HeaderScan? {
    // Foundation refuses invalid UTF-8 anywhere in the line: so does this (by giving nil).
    if bytes.contains(where: { $0 >= 0x80 }), String(validating: bytes, as: UTF8.self) == nil { return nil }
    skipSpace()
    guard next(0x7B) else { return nil }  // {
    var jsonrpc: String?
    var id: RPCID?
    var hasID = false
    var method: String?
    var params: Range<Int>?
    var paramsKind = MessageHeader.ParamsKind.none
    var seen = Set<String>()
    skipSpace()
    if !next(0x7D) {
      repeat {
        skipSpace()
        guard let key = plainString(), seen.insert(key).inserted else { return nil }
        skipSpace()
        guard next(0x3A) else { return nil }  // :
        skipSpace()
        switch key {
        case "jsonrpc":
          guard let value = plainString() else { return nil }
          jsonrpc = value
        case "id":
          hasID = true
          if let value = plainString() {
            id = .string(value)
          } else if let value = wholeNumber() {
            id = .number(value)
          } else if literal("null") {
            id = nil
          } else {
            return nil
          }
        case "method":
          guard let value = plainString() else { return nil }
          method = value
        case "params":
          let start = at
          guard peek == 0x7B || literal("null") else { return nil }
          if peek == 0x7B {
            guard skipValue(depth: 0) else { return nil }
            params = start..<at
            paramsKind = .object
          }
        case "result", "error":
          return nil
        default:
          guard skipValue(depth: 0) else { return nil }
        }
        skipSpace()
      } while next(0x2C)  // ,
      guard next(0x7D) else { return nil }
    }
    skipSpace()
    guard at == bytes.count else { return nil }
    return HeaderScan(
      header: MessageHeader(
        jsonrpc: jsonrpc, id: id, hasID: hasID, idIsValid: true, method: method, paramsKind: paramsKind,
        hasResult: false, error: nil),
      params: params)
  }
}
