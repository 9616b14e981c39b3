// raindrop.hpp must compile on its own (no other include first), warning-free.
#include <raindrop/raindrop.hpp>

#include <string>
#include <vector>

namespace {
[[maybe_unused]] void instantiate_everything(raindrop::Client& client) {
    auto wrapped = client.wrap("m", [](const raindrop::Inputs& in) { return in; });
    (void)wrapped(raindrop::Inputs{{"k", "v"}});
    raindrop::Call call = client.call("c");
    call->set_output(raindrop::Outputs{}).set_usage(1, 2).set_property("n", 1.5);
    raindrop::Span lm = call->lm_span("lm");
    (void)client.track_ai(raindrop::Event{});
    auto words = client.wrap("w", [](const std::vector<std::string>& v) { return v; });
    (void)words(std::vector<std::string>{"a"});
}
}  // namespace
