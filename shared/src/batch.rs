//! The one batcher: items grouped in order into calls of at most so many items and so many
//! bytes, a new call wherever the group changes (SNS's `PublishBatch` per topic,
//! EventBridge's `PutEvents`).

/// Groups `items` greedily, in order: each batch holds items of one group (`group`), at
/// most `max_items` of them and at most `max_bytes` by `size` in all, except that an item
/// larger than `max_bytes` goes alone. Every item lands in exactly one batch.
pub fn greedy<'a, T, G: PartialEq>(
    items: &'a [T],
    max_items: usize,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
    group: impl Fn(&T) -> G,
) -> Vec<Vec<&'a T>> {
    let mut out: Vec<(Vec<&'a T>, usize, G)> = Vec::new();
    for item in items {
        let (bytes, g) = (size(item), group(item));
        match out.last_mut() {
            Some((batch, total, last)) if *last == g && batch.len() < max_items && *total + bytes <= max_bytes => {
                batch.push(item);
                *total += bytes;
            }
            _ => out.push((vec![item], bytes, g)),
        }
    }
    out.into_iter().map(|(batch, _, _)| batch).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn batches_keep_order_groups_counts_and_sizes(
            items in prop::collection::vec((0u8..3, 1usize..=100), 0..60),
            max_items in 1usize..12,
            max_bytes in 1usize..300,
        ) {
            let got = greedy(&items, max_items, max_bytes, |i| i.1, |i| i.0);
            // Every item once, in order.
            let flat: Vec<*const (u8, usize)> = got.iter().flatten().map(|i| *i as *const _).collect();
            let want: Vec<*const (u8, usize)> = items.iter().map(|i| i as *const _).collect();
            prop_assert_eq!(flat, want);
            for batch in &got {
                prop_assert!(!batch.is_empty() && batch.len() <= max_items);
                prop_assert!(batch.iter().all(|i| i.0 == batch[0].0), "one group a batch");
                let total: usize = batch.iter().map(|i| i.1).sum();
                prop_assert!(total <= max_bytes || batch.len() == 1, "over the limit only alone");
            }
            // Greedy: a batch is cut only where the next item could not have joined it.
            for pair in got.windows(2) {
                let (a, b) = (&pair[0], pair[1][0]);
                let total: usize = a.iter().map(|i| i.1).sum();
                prop_assert!(a[0].0 != b.0 || a.len() == max_items || total + b.1 > max_bytes);
            }
        }
    }

    #[test]
    fn an_item_over_the_byte_limit_goes_alone() {
        let items = [(0, 5), (0, 50), (0, 5)];
        let got = greedy(&items, 10, 10, |i| i.1, |i| i.0);
        assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1, 1]);
    }
}
