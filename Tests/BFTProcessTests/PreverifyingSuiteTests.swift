@testable import BFTNIO
import BFTCore
import BFTCrypto
import Testing

/// The replica process checks a read's signatures on every core before the core asks (`PreverifyingSuite`). An
/// answer from that table must be the answer the real check gives, for the same signature, bytes and key only.
@Suite("Signatures checked ahead")
struct PreverifyingSuiteTests {
    let suite = SodiumCryptoSuite()
    let primary = Ed25519Signer()
    let clients = (0..<12).map { _ in Ed25519Signer() }

    var directory: KeyDirectory { KeyDirectory(replicas: [primary.publicKey], clients: [:]) }
    /// View 0, whose primary is replica 0, watermarks 0 and 100.
    let window = PreverifyingSuite.Window(view: 0, primary: .replica(0), low: 0, high: 100)

    func request(_ index: Int, timestamp: UInt64 = 1) -> Envelope {
        let signer = clients[index]
        let message = Message.request(Request(timestamp: Timestamp(timestamp), operation: [UInt8(index)],
                                              clientKey: signer.publicKey))
        return Envelope(signing: message, from: .client(ClientID(selfCertifying: signer.publicKey, suite: suite)),
                        with: signer)
    }

    /// A pre-prepare of the primary's with the twelve clients' requests; request 3's signature is another's.
    func prePrepare(sequence: SequenceNumber = 1) -> (envelope: Envelope, batch: [Envelope]) {
        var batch = clients.indices.map { request($0) }
        let honest = batch[3]
        batch[3] = Envelope(unverified: honest.message, from: honest.sender, signature: request(4, timestamp: 2).signature!)
        let message = Message.prePrepare(PrePrepare(view: 0, sequence: sequence, digest: .zero, batch: batch))
        return (Envelope(signing: message, from: .replica(0), with: primary), batch)
    }

    func key(of envelope: Envelope) -> PublicKey {
        guard case .request(let request) = envelope.message, let key = request.clientKey else {
            return primary.publicKey
        }
        return key
    }

    @Test("signatures checked ahead: the table gives the real check's answer for every signature of a read")
    func answersAsTheRealCheck() {
        let checking = PreverifyingSuite(base: suite)
        let (envelope, batch) = prePrepare()
        checking.check([envelope], directory: directory, window: window)
        for entry in [envelope] + batch {
            let signature = entry.signature!
            #expect(checking.verify(signature, of: entry.signedBytes, by: key(of: entry))
                == suite.verify(signature, of: entry.signedBytes, by: key(of: entry)))
        }
        // Every one of them came from the table, the forged one (false) included.
        #expect(checking.answered == batch.count + 1)
        #expect(checking.verify(batch[3].signature!, of: batch[3].signedBytes, by: key(of: batch[3])) == false)
        checking.forget()
        _ = checking.verify(batch[0].signature!, of: batch[0].signedBytes, by: key(of: batch[0]))
        #expect(checking.answered == batch.count + 2)  // the check after `forget` went to libsodium
    }

    @Test("""
        signatures checked ahead: a checked signature is not reused for other bytes or another key, and a read \
        with too few signatures is left to the core
        """)
    func reusedOnlyForTheSameTriple() {
        let checking = PreverifyingSuite(base: suite)
        let (envelope, batch) = prePrepare()
        checking.check([envelope], directory: directory, window: window)
        let valid = batch[0]
        let signature = valid.signature!
        #expect(checking.verify(signature, of: valid.signedBytes, by: key(of: valid)))
        // The same signature over another request's bytes, or under another client's key, is not valid.
        #expect(!checking.verify(signature, of: batch[1].signedBytes, by: key(of: valid)))
        #expect(!checking.verify(signature, of: valid.signedBytes, by: key(of: batch[1])))

        let few = PreverifyingSuite(base: suite, minimumParallel: 8)
        few.check((0..<3).map { request($0) }, directory: directory, window: window)
        _ = few.verify(signature, of: valid.signedBytes, by: key(of: valid))
        #expect(few.answered == 0)
    }

    @Test("""
        signatures checked ahead: a pre-prepare the replica would refuse unchecked (another view, another sender, \
        outside the watermarks) buys no checks
        """)
    func onlyAdmittedPrePrepares() {
        let (envelope, _) = prePrepare()
        let refused = [
            PreverifyingSuite.Window(view: 1, primary: .replica(0), low: 0, high: 100),
            PreverifyingSuite.Window(view: 0, primary: .replica(1), low: 0, high: 100),
            PreverifyingSuite.Window(view: 0, primary: .replica(0), low: 1, high: 100),
            nil,
        ]
        for window in refused {
            let checking = PreverifyingSuite(base: suite, minimumParallel: 1)
            checking.check([envelope], directory: directory, window: window)
            _ = checking.verify(envelope.signature!, of: envelope.signedBytes, by: primary.publicKey)
            #expect(checking.answered == 0, "\(String(describing: window))")
        }
    }

    @Test("signatures checked ahead: a slot's pre-prepare sent again buys no second batch of checks")
    func oneLookPerSlot() {
        let (envelope, batch) = prePrepare()
        let checking = PreverifyingSuite(base: suite)
        checking.check([envelope], directory: directory, window: window)
        checking.forget()
        checking.check([envelope], directory: directory, window: window)
        _ = checking.verify(batch[0].signature!, of: batch[0].signedBytes, by: key(of: batch[0]))
        #expect(checking.answered == 0, "the repeat was left to the core")
        // The next slot is looked at.
        checking.forget()
        let (following, _) = prePrepare(sequence: 2)
        checking.check([following], directory: directory, window: window)
        _ = checking.verify(following.signature!, of: following.signedBytes, by: primary.publicKey)
        #expect(checking.answered == 1)
    }
}
