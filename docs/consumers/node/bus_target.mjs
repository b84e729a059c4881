// A Lambda function (Node.js 20) that is a rule's target on the function's EventBridge bus.
// The event is EventBridge's: `detail-type` the Extracta event, `detail` the file's message
// (the same as on SNS, for all four events) or a pointer to the archive copy.
import { firstTime, forget, fullEntry } from "./consume.mjs";

export async function handler(event) {
  const detail = event.detail; // already JSON: no string to parse, unlike SNS
  if (!(await firstTime(detail.eventId))) return; // put again by a redrive or replay
  try {
    if ("archived" in detail) {
      // A future namespace, or a body that did not fit: the delivery is in the archive.
      console.log(JSON.stringify({ eventId: detail.eventId, detailType: event["detail-type"],
        source: "archive", files: detail.files }));
      return;
    }
    const entry = await fullEntry(detail); // from the detail, or from S3 when resultOmitted
    console.log(JSON.stringify({ eventId: detail.eventId, detailType: event["detail-type"],
      fileId: entry.fileId ?? null, source: detail.resultOmitted ? "s3" : "detail" }));
  } catch (e) {
    await forget(detail.eventId); // EventBridge retries the invocation
    throw e;
  }
}
