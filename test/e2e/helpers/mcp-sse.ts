/** One `data` event of a `text/event-stream` body and when it arrived. */
export interface TimedMessage {
  /** Milliseconds since the reader started. */
  receivedAtMs: number;
  message: Record<string, unknown>;
}

/**
 * Reads a `text/event-stream` body as it arrives and parses the `data` of each event as JSON,
 * recording when each event was complete. A blank line ends an event, as the WHATWG server-sent
 * events format defines. Events without data, such as comments, are skipped.
 */
export async function readEventStream(response: Response): Promise<TimedMessage[]> {
  if (!response.body) throw new Error("The response has no body.");
  const started = performance.now();
  const decoder = new TextDecoder();
  const messages: TimedMessage[] = [];
  let buffer = "";

  const takeEvents = () => {
    const events = buffer.split(/\r?\n\r?\n/);
    buffer = events.pop() ?? "";
    for (const event of events) {
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (data) messages.push({ receivedAtMs: performance.now() - started, message: JSON.parse(data) });
    }
  };

  const reader = response.body.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    buffer += decoder.decode(chunk.value, { stream: true });
    takeEvents();
  }
  buffer += decoder.decode();
  buffer += "\n\n";
  takeEvents();
  return messages;
}
