//! The order of deliveries of one file (docs/contract.md §9): receipt time, then `eventId`.

use crate::Message;

/// Where a message's delivery stands among the deliveries of the same file: compare two
/// with `<`/`>` to keep only the newest downstream (a table keyed by S3 key, say).
///
/// The function writes `receivedAt` as RFC 3339 UTC with milliseconds, one fixed width
/// (`2026-11-26T18:19:08.123Z`), so its text order is time order; a tie goes to the
/// greater `eventId`, as the function itself decides which object to keep.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Order {
    /// `receivedAt`: when the delivery was first received.
    pub received_at: String,
    /// `eventId` of the file's stored bytes.
    pub event_id: String,
}

impl Message {
    /// This message's place among the deliveries of its file.
    pub fn order(&self) -> Order {
        Order {
            received_at: self.received_at.clone(),
            event_id: self.event_id.clone(),
        }
    }

    /// Whether this message comes from a newer delivery of its file than `seen` (the
    /// order of the last one acted on): a duplicate or an older one is not.
    pub fn is_newer_than(&self, seen: &Order) -> bool {
        (self.received_at.as_str(), self.event_id.as_str()) > (seen.received_at.as_str(), seen.event_id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(received_at: &str, event_id: &str) -> Message {
        let body = format!(
            r#"{{"event":"extraction.confirmed","eventId":"{event_id}","extractionId":"e","batchId":"b","fileId":"f",
            "fileName":null,"status":null,"url":null,"result":{{}},"s3":{{"bucket":"b","key":"k"}},"receivedAt":"{received_at}"}}"#
        );
        Message::from_json(&body).unwrap()
    }

    #[test]
    fn newer_is_a_later_receipt_then_a_greater_event_id() {
        let old = message("2026-11-26T18:19:08.123Z", "ff");
        let new = message("2026-11-26T18:19:08.124Z", "00");
        assert!(new.is_newer_than(&old.order()));
        assert!(!old.is_newer_than(&new.order()), "an older message is not newer");
        assert!(!new.is_newer_than(&new.order()), "a duplicate is not newer");
        let tie = message("2026-11-26T18:19:08.123Z", "fe");
        assert!(old.is_newer_than(&tie.order()), "a tie goes to the greater eventId");
        assert!(old.order() > tie.order() && new.order() > old.order());
        // Across a day, a month, a year: text order is time order at one fixed width.
        let dec = message("2026-12-31T23:59:59.999Z", "00");
        let jan = message("2027-01-01T00:00:00.000Z", "00");
        assert!(jan.is_newer_than(&dec.order()));
    }
}
