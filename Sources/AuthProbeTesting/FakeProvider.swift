import AuthProbe

/// The tests' name for the ``LoopbackProvider`` built without clients: it accepts any credentials, serves a
/// valid discovery document, a one-key JWKS and ``LoopbackProvider/validToken``, and `set(_:_:)` scripts any
/// path. The demo runs the same provider.
public typealias FakeProvider = LoopbackProvider
