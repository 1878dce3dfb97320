/**
 * Idempotent producers (PROTOCOL.md section 5.2.1): Kafka-style `(Producer-Id, Producer-Epoch, Producer-Seq)`
 * per request. This is the pure decision; the caller stores the state and applies it in the same synchronous
 * step as the append, so a crash can never leave data without its producer state (or the reverse).
 */

export interface ProducerHeaders {
  producerId: string;
  epoch: number;
  seq: number;
}

/** What the stream remembers of one producer: its epoch and the highest sequence number it had accepted. */
export interface ProducerState {
  epoch: number;
  lastSeq: number;
}

export type ProducerVerdict =
  | { kind: "accepted"; next: ProducerState }
  | { kind: "duplicate"; lastSeq: number }
  /** 403: a newer epoch exists (zombie fencing); `currentEpoch` goes back in the `Producer-Epoch` header. */
  | { kind: "stale_epoch"; currentEpoch: number }
  /** 400: a new epoch must start at sequence 0. */
  | { kind: "invalid_epoch_seq" }
  /** 409: an earlier sequence number has not arrived yet. */
  | { kind: "sequence_gap"; expectedSeq: number; receivedSeq: number };

export function judgeProducer(state: ProducerState | null, request: ProducerHeaders): ProducerVerdict {
  const { epoch, seq } = request;
  if (state === null) {
    return seq === 0
      ? { kind: "accepted", next: { epoch, lastSeq: 0 } }
      : { kind: "sequence_gap", expectedSeq: 0, receivedSeq: seq };
  }
  if (epoch < state.epoch) return { kind: "stale_epoch", currentEpoch: state.epoch };
  if (epoch > state.epoch) {
    return seq === 0 ? { kind: "accepted", next: { epoch, lastSeq: 0 } } : { kind: "invalid_epoch_seq" };
  }
  if (seq <= state.lastSeq) return { kind: "duplicate", lastSeq: state.lastSeq };
  if (seq === state.lastSeq + 1) return { kind: "accepted", next: { epoch, lastSeq: seq } };
  return { kind: "sequence_gap", expectedSeq: state.lastSeq + 1, receivedSeq: seq };
}
