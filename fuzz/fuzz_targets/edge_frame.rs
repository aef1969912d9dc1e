//! The chat edge's client input: bytes through a `LineBuffer` of the edge's limit, each
//! line through `ClientFrame::parse` (what `edge::server` does), and the relay check for
//! messages arriving from NATS.
//!
//! Checks: a parsed frame encodes back to exactly its line; the line also read as a server
//! frame round-trips; a message `relayable` accepts becomes exactly one chat frame carrying
//! it unchanged (no frame injection into other clients).
#![no_main]

use edge::codec::{
    chat_line, relayable, valid_nonce, ChatKind, ClientFrame, ServerFrame, MAX_FRAME,
};
use libfuzzer_sys::fuzz_target;
use shared::framing::LineBuffer;

fuzz_target!(|data: &[u8]| {
    let mut input = LineBuffer::new(MAX_FRAME);
    input.extend(data);
    while let Ok(Some(line)) = input.next_line() {
        check_client_line(line);
        check_server_line(line);
    }
    check_relay(data);
});

fn check_client_line(line: &str) {
    let Ok(frame) = ClientFrame::parse(line) else {
        return;
    };
    if let ClientFrame::Register { nonce } = &frame {
        assert!(valid_nonce(nonce), "accepted an invalid nonce {nonce:?}");
    }
    let encoded = frame.encode();
    assert_eq!(&encoded[..encoded.len() - 2], line.as_bytes());
    assert!(encoded.ends_with(b"\r\n"));
}

fn check_server_line(line: &str) {
    let Ok(frame) = ServerFrame::parse(line) else {
        return;
    };
    let encoded = frame.encode();
    assert_eq!(&encoded[..encoded.len() - 2], line.as_bytes());
}

fn check_relay(message: &[u8]) {
    if !relayable(message) {
        return;
    }
    for kind in [ChatKind::Public, ChatKind::Family] {
        let wire = chat_line(kind, message);
        // The client side reads it with no practical limit: only the frame boundary matters.
        let mut reader = LineBuffer::new(wire.len());
        reader.extend(&wire);
        let line = reader
            .next_line()
            .expect("a relayable message is UTF-8")
            .expect("a chat line is complete");
        let frame = ServerFrame::parse(line).expect("a chat line parses");
        let expected = ServerFrame::Chat {
            kind,
            message: String::from_utf8(message.to_vec()).expect("relayable implies UTF-8"),
        };
        assert_eq!(frame, expected, "relayed message changed on the wire");
        assert_eq!(
            reader.pending(),
            0,
            "a relayed message injected a second frame"
        );
    }
}
