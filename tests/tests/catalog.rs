//! Every built-in plugin the binary ships passes the SDK's conformance checks and loads.

use bacon_engine::plugins::loader::PluginLoader;
use bacon_engine::plugins::overrides::PluginOverrides;
use bacon_plugin_sdk::testing::assert_conformance;

#[test]
fn every_builtin_plugin_conforms_and_loads() {
    let factories = bacon_api::catalog::builtin_plugins();
    assert!(!factories.is_empty());
    for factory in &factories {
        assert_conformance(&(factory.build)());
    }
    let report = PluginLoader::new(PluginOverrides::default()).load_all(&factories);
    assert!(report.faults.is_empty(), "{:?}", report.faults);
    assert_eq!(report.loaded.len(), factories.len());
}
