// Socket.IO's packet parser, minus the search for binary attachments in every packet this server sends: it sends
// JSON only (answers and pushes are plain objects), and that search walks every answer's whole payload.
import * as parser from 'socket.io-parser';

/** Encodes every outgoing packet as one text frame, without looking for Buffers in it. */
class TextEncoder extends parser.Encoder {
  override encode(packet: parser.Packet): string[] {
    return [(this as unknown as { encodeAsString(packet: parser.Packet): string }).encodeAsString(packet)];
  }
}

/**
 * The `parser` option of the Socket.IO server: the standard wire format (clients need nothing else), the standard
 * decoder (a client's binary payload still arrives, and is refused in words), and an encoder for JSON-only packets.
 */
export const textParser = { protocol: parser.protocol, PacketType: parser.PacketType, Encoder: TextEncoder, Decoder: parser.Decoder };
