//! What an order holds, derived from its number so every run sends the same story.

/// The stock item an order's line asks for, and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub sku: String,
    pub quantity: u64,
}

/// Between one and three lines; some ask for more than the worker has.
pub fn lines(order: u64) -> Vec<Line> {
    (0..1 + order % 3)
        .map(|i| Line {
            sku: format!("sku-{}", (order * 3 + i * 7) % 10),
            quantity: 1 + (order * 2 + i) % 4,
        })
        .collect()
}

/// The worker's stock of every item; more than this is out of stock.
pub const STOCK_PER_SKU: u64 = 3;

/// The item whose database lookups time out, so some orders fail.
pub const BROKEN_SKU: &str = "sku-7";

/// Unit price in cents.
pub fn price_cents(sku: &str) -> u64 {
    sku.bytes().map(u64::from).sum::<u64>() * 10
}
