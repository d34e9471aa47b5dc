/**
 * Confluent's wire format for a record written with a registered schema:
 *
 *   byte 0      magic byte, 0
 *   bytes 1-4   schema id, int32 big-endian (the registry's global id)
 *   bytes 5-    the payload: Avro binary of the value, written with that schema
 */
export const MAGIC_BYTE = 0;
export const WIRE_HEADER_BYTES = 5;

export function writeWireFormat(schemaId: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(WIRE_HEADER_BYTES + payload.length);
  out[0] = MAGIC_BYTE;
  out.writeInt32BE(schemaId, 1);
  payload.copy(out, WIRE_HEADER_BYTES);
  return out;
}

/** The schema id of bytes in the wire format, or undefined when they are not in it. */
export function wireSchemaId(bytes: Buffer): number | undefined {
  return bytes.length >= WIRE_HEADER_BYTES && bytes[0] === MAGIC_BYTE ? bytes.readInt32BE(1) : undefined;
}
