/// 64 random bits as 16 lowercase hex digits, from the system's generator (`getrandom`: one
/// system call, where Foundation's `UUID()` opens, reads and closes `/dev/urandom` each time).
///
/// Operation ids and temporary file names are made of it.
package func randomHex16() -> String {
  let digits = String(UInt64.random(in: .min ... .max), radix: 16)
  return String(repeating: "0", count: 16 - digits.count) + digits
}
