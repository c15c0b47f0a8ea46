import SpacesModel
import Testing

/// How a client reads the wire's errors (`SpacesError(rpc)`), and that the server's mapping
/// (`RPCError(error)`) gives the response back.
@Suite struct ClientErrorTests {
  @Test func aFailedMethodKeepsItsStableCode() {
    let rpc = RPCError(SpacesError(.undoRefused, "a later operation changed a.txt"))
    let error = SpacesError(rpc)
    #expect(error.code == .undoRefused)
    #expect(error.message == "a later operation changed a.txt")
    #expect(error.rpcCode == RPCErrorCode.failed)
    #expect(RPCError(error) == rpc)
  }

  @Test func aRefusedRequestIsNamedAsTheSchemaNamesIt() {
    for name in RPCErrorCode.Name.allCases where name != .failed {
      let rpc = RPCError(name.code, "refused")
      let error = SpacesError(rpc)
      #expect(error.code.rawValue == name.rawValue)
      #expect(error.rpcCode == name.code)
      #expect(error.message == "refused")
      // Back to the wire it is the same response (no `data` it never had).
      #expect(RPCError(error) == rpc, "\(name)")
    }
  }

  @Test func aNumberTheProtocolDoesntUseIsARequestError() {
    let error = SpacesError(RPCError(-32603, "internal"))
    #expect(error.code.rawValue == "requestError")
    #expect(error.rpcCode == -32603)
    // A failure without its stable code still reads as a failure.
    #expect(SpacesError(RPCError(RPCErrorCode.failed, "x")).code.rawValue == "failed")
  }

  @Test func anErrorRaisedOnThisSideGoesOutAsAFailure() {
    let rpc = RPCError(SpacesError(.notFound, "no such file"))
    #expect(rpc.code == RPCErrorCode.failed)
    #expect(rpc.data?.code == "notFound")
  }
}
