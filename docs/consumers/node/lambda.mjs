// A Lambda function (Node.js 20) subscribed to a results topic: the SNS trigger's event.
import { firstTime, forget, fullEntry } from "./consume.mjs";

export async function handler(event) {
  for (const record of event.Records) {
    const message = JSON.parse(record.Sns.Message); // the function's message, a JSON string
    const attributes = Object.fromEntries(
      Object.entries(record.Sns.MessageAttributes ?? {}).map(([k, v]) => [k, v.Value]));
    if (!(await firstTime(message.eventId))) continue; // an SNS retry or a replay: done already
    try {
      const entry = await fullEntry(message);
      console.log(JSON.stringify({ eventId: message.eventId, status: attributes.status ?? null,
        fileId: entry.fileId ?? null, from: message.resultOmitted ? "s3" : "message" }));
    } catch (e) {
      await forget(message.eventId); // SNS retries the invocation: let it process this one
      throw e;
    }
  }
}
