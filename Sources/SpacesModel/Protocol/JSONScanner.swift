/// A cursor over the bytes of one JSON line, with the small readers the hand-written fast
/// paths share (the server's ``HeaderScan`` and its reading of `op.submit` params, the Swift
/// client's reading of output events):
/// each reads one thing at the cursor and moves past it, or gives nil/false.
package struct JSONScanner {
  /// The line.
  package let bytes: UnsafeRawBufferPointer
  /// Where the next read starts.
  package var at = 0

  /// A cursor at the start of `bytes`.
  package init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

  /// The byte at the cursor; nil at the end.
  package var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

  /// Moves past `byte` when it is at the cursor.
  package mutating func next(_ byte: UInt8) -> Bool {
    guard peek == byte else { return false }
    at += 1
    return true
  }

  /// Moves past JSON's whitespace.
  package mutating func skipSpace() {
    while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { at += 1 }
  }

  /// Moves past `word` when the bytes at the cursor are exactly it.
  package mutating func literal(_ word: StaticString) -> Bool {
    let count = word.utf8CodeUnitCount
    guard at + count <= bytes.count else { return false }
    for index in 0..<count where bytes[at + index] != word.utf8Start[index] { return false }
    at += count
    return true
  }

  /// A string without escapes; nil (and nothing read) for anything else.
  package mutating func plainString() -> String? {
    guard peek == 0x22 else { return nil }
    var end = at + 1
    while end < bytes.count {
      let byte = bytes[end]
      if byte == 0x22 {
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(at + 1)..<end]), as: UTF8.self)
        at = end + 1
        return text
      }
      if byte == 0x5C || byte < 0x20 { return nil }
      end += 1
    }
    return nil
  }

  /// A JSON integer that fits an `Int` (no fraction, exponent or leading zero); nil (and
  /// nothing read) for anything else.
  package mutating func wholeNumber() -> Int? {
    var end = at
    let negative = end < bytes.count && bytes[end] == 0x2D
    if negative { end += 1 }
    let first = end
    var value = 0
    while end < bytes.count, bytes[end] >= 0x30, bytes[end] <= 0x39 {
      let digit = Int(bytes[end] - 0x30)
      let (times, overflow) = value.multipliedReportingOverflow(by: 10)
      let (sum, overflow2) = times.addingReportingOverflow(digit)
      guard !overflow, !overflow2 else { return nil }
      value = sum
      end += 1
    }
    let digits = end - first
    guard digits > 0, !(digits > 1 && bytes[first] == 0x30), !(negative && value == 0) else { return nil }
    if end < bytes.count, [0x2E, 0x65, 0x45].contains(bytes[end]) { return nil }
    at = end
    return negative ? -value : value
  }

  /// Skips one JSON value, checking its syntax; false when it is not valid (or too deep).
  package mutating func skipValue(depth: Int) -> Bool {
    guard depth < 64, let byte = peek else { return false }
    switch byte {
    case 0x7B, 0x5B:  // { [
      let close: UInt8 = byte == 0x7B ? 0x7D : 0x5D
      at += 1
      skipSpace()
      if next(close) { return true }
      repeat {
        skipSpace()
        if byte == 0x7B {
          guard skipString() else { return false }
          skipSpace()
          guard next(0x3A) else { return false }
          skipSpace()
        }
        guard skipValue(depth: depth + 1) else { return false }
        skipSpace()
      } while next(0x2C)
      return next(close)
    case 0x22: return skipString()
    case 0x74: return literal("true")
    case 0x66: return literal("false")
    case 0x6E: return literal("null")
    default: return skipNumber()
    }
  }

  /// Skips a string, checking its escapes and that it has no control characters.
  package mutating func skipString() -> Bool {
    guard next(0x22) else { return false }
    while let byte = peek {
      at += 1
      switch byte {
      case 0x22: return true
      case 0x5C:
        guard let escaped = peek else { return false }
        at += 1
        switch escaped {
        case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: continue
        case 0x75:
          // \uXXXX: a lone surrogate is Foundation's to judge.
          guard at + 4 <= bytes.count else { return false }
          var unit: UInt16 = 0
          for _ in 0..<4 {
            guard let digit = hexValue(bytes[at]) else { return false }
            unit = unit << 4 | UInt16(digit)
            at += 1
          }
          if unit >= 0xD800 && unit <= 0xDFFF { return false }
        default: return false
        }
      default:
        if byte < 0x20 { return false }
      }
    }
    return false
  }

  /// The value of a hex digit.
  package func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: byte - 0x30
    case 0x41...0x46: byte - 0x41 + 10
    case 0x61...0x66: byte - 0x61 + 10
    default: nil
    }
  }

  /// Skips a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  package mutating func skipNumber() -> Bool {
    _ = next(0x2D)
    guard let first = peek, first >= 0x30, first <= 0x39 else { return false }
    at += 1
    if first != 0x30 { skipDigits() }
    if next(0x2E) {
      guard digit() else { return false }
      skipDigits()
    }
    if next(0x65) || next(0x45) {
      if !next(0x2B) { _ = next(0x2D) }
      guard digit() else { return false }
      skipDigits()
    }
    return true
  }

  /// Moves past one decimal digit.
  package mutating func digit() -> Bool {
    guard let byte = peek, byte >= 0x30, byte <= 0x39 else { return false }
    at += 1
    return true
  }

  /// Moves past decimal digits.
  package mutating func skipDigits() { while digit() {} }

  /// A JSON string: plain runs copied at once, the JSON escapes decoded; nil for a control
  /// character, an unknown escape, a lone surrogate or bytes that are not UTF-8.
  package mutating func string() -> String? {
    guard next(0x22) else { return nil }
    var out: [UInt8] = []
    var runStart = at
    while let byte = peek {
      if byte == 0x22 {
        let run = UnsafeRawBufferPointer(rebasing: bytes[runStart..<at])
        at += 1
        // Every escape adds to `out`: empty means none, and the bytes are read where they lie.
        if out.isEmpty { return String(validating: run, as: UTF8.self) }
        out.append(contentsOf: run)
        return String(validating: out, as: UTF8.self)
      }
      if byte < 0x20 { return nil }
      if byte != 0x5C {
        at += 1
        continue
      }
      out.append(contentsOf: bytes[runStart..<at])
      guard at + 1 < bytes.count else { return nil }
      let escape = bytes[at + 1]
      at += 2
      switch escape {
      case 0x22, 0x5C, 0x2F: out.append(escape)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"):
        guard let unit = hex4() else { return nil }
        var scalar = unit
        if (0xD800...0xDBFF).contains(unit) {
          guard literal(#"\u"#), let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
          scalar = 0x1_0000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(unit) {
          return nil
        }
        guard let value = Unicode.Scalar(scalar) else { return nil }
        Unicode.UTF8.encode(value) { out.append($0) }
      default:
        return nil
      }
      runStart = at
    }
    return nil
  }

  /// Four hex digits.
  package mutating func hex4() -> UInt32? {
    guard bytes.count - at >= 4 else { return nil }
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard let digit = hexValue(bytes[at]) else { return nil }
      value = value << 4 | UInt32(digit)
      at += 1
    }
    return value
  }
}
