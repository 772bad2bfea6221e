//! The plugin's actions, one file each: typed input, typed output, one `run` handler.
//! To add one: a file here with its input/output types and `run`, then a line in `definition()`.

pub mod find_customer;
pub mod get_order;
pub mod list_customer_orders;
pub mod test_connection;
