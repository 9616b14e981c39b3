// Quick start: wrap two DSPy-style modules, nest them, report an LM call, send a signal, and
// look at what the client wrote. It uses the offline `file://` sink, so it needs no network and
// no account: every request that would go to Raindrop becomes one JSON line in a file.
//
//   ./quickstart [output.jsonl]
#include <raindrop/raindrop.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <unistd.h>

int main(int argc, char** argv) {
    using namespace std::chrono_literals;
    const std::string path =
        argc > 1 ? argv[1] : "/tmp/raindrop-quickstart-" + std::to_string(::getpid()) + ".jsonl";
    std::remove(path.c_str());

    std::cout << "raindrop core " << raindrop::core_version() << ", C++ layer " << raindrop::cpp_version << "\n";
    try {
        raindrop::Config config;
        config.api_key = "demo-key";             // or leave unset and export RAINDROP_WRITE_KEY
        config.endpoint = "file://" + path;      // default: https://api.raindrop.ai/v1/
        config.user_id = "demo-user";
        config.shutdown_timeout = 5s;
        raindrop::Client client(config);

        // A "module" is any callable from named inputs to named outputs (or to a string).
        auto retrieve = client.wrap("retrieve", [](const raindrop::Inputs& in) {
            return raindrop::Outputs{{"context", "Paris is the capital of France. (" + in.at("question") + ")"}};
        });

        std::string event_id;
        auto qa = client.wrap("qa", [&](const raindrop::Inputs& in) {
            raindrop::CallContext* call = raindrop::current_call();
            event_id = call->event_id();
            // Called inside `qa`: becomes a child span of this call, not a second event.
            const auto ctx = retrieve({{"question", in.at("question")}});
            {
                // Report the LM call: model, tokens and finish reason roll up into the event.
                raindrop::Span lm = call->lm_span("openai/gpt-4o-mini", ctx.at("context"));
                lm->set_model("gpt-4o-mini").set_usage(42, 3).set_finish_reason("stop").set_output("Paris");
            }
            return raindrop::Outputs{{"answer", "Paris"}};
        });

        const raindrop::Outputs out = qa({{"question", "What is the capital of France?"}});
        std::cout << "answer: " << out.at("answer") << "\nevent id: " << event_id << "\n";

        client.identify("demo-user", {{"plan", "free"}, {"seats", 1}});

        raindrop::Signal thumbs;
        thumbs.event_id = event_id;
        thumbs.name = "thumbs_up";
        thumbs.sentiment = "POSITIVE";
        client.track_signal(thumbs);

        if (!client.flush(5s)) std::cerr << "flush timed out\n";
        const raindrop::Stats st = client.stats();
        std::cout << "queued " << st.queued << ", delivered " << st.delivered << ", requests " << st.requests
                  << "\n";
    } catch (const raindrop::Error& e) {
        std::cerr << "raindrop error " << raindrop::code_name(e.code()) << ": " << e.what() << "\n";
        return 1;
    }  // ~Client: shutdown (drains within the configured timeout)

    std::cout << "\nwritten to " << path << ":\n";
    std::ifstream in(path);
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
        std::cout << line << "\n";
        ++lines;
    }
    if (argc <= 1) std::remove(path.c_str());
    return lines > 0 ? 0 : 2;
}
