// Tests of raindrop.hpp against the real core, over real HTTP on loopback (the test sink, sink.hpp).
#include <raindrop/raindrop.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <array>
#include <deque>
#include <filesystem>
#include <fstream>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <type_traits>
#include <unistd.h>

#include "sink.hpp"
#include "json_value.hpp"

using namespace std::chrono_literals;
using testsink::Sink;
using testsink::Request;

namespace {

// Compile-time properties of the types.
static_assert(!std::is_copy_constructible_v<raindrop::Client>);
static_assert(!std::is_copy_assignable_v<raindrop::Client>);
static_assert(std::is_nothrow_move_constructible_v<raindrop::Client>);
static_assert(std::is_nothrow_move_assignable_v<raindrop::Client>);
static_assert(!std::is_copy_constructible_v<raindrop::Call>);
static_assert(std::is_nothrow_move_constructible_v<raindrop::Call>);
static_assert(std::is_base_of_v<std::runtime_error, raindrop::Error>);

constexpr auto kWait = 15s;  // generous: the machine is shared

std::vector<mjson::Value> items(const std::vector<Request>& reqs, const std::string& route) {
    std::vector<mjson::Value> out;
    for (const auto& r : reqs) {
        if (r.route != route) continue;
        mjson::Value v = mjson::parse(r.body);
        if (v.is_array()) {
            for (auto& x : v.a) out.push_back(x);
        } else {
            out.push_back(v);
        }
    }
    return out;
}

std::size_t count_items(const std::vector<Request>& reqs, const std::string& route) {
    try {
        return items(reqs, route).size();
    } catch (...) {
        return 0;
    }
}

/// Every span in every OTLP request.
std::vector<mjson::Value> spans_of(const std::vector<Request>& reqs) {
    std::vector<mjson::Value> out;
    for (const auto& r : reqs) {
        if (r.route != "traces") continue;
        mjson::Value v = mjson::parse(r.body);
        for (const auto& rs : v["resourceSpans"].a)
            for (const auto& ss : rs["scopeSpans"].a)
                for (const auto& sp : ss["spans"].a) out.push_back(sp);
    }
    return out;
}

/// A span attribute's value as text (stringValue / intValue / boolValue).
std::string attr(const mjson::Value& span, const std::string& key) {
    for (const auto& a : span["attributes"].a) {
        if (a["key"].str() != key) continue;
        const auto& v = a["value"];
        if (v.has("stringValue")) return v["stringValue"].str();
        if (v.has("intValue")) {
            const auto& iv = v["intValue"];
            return iv.is_string() ? iv.str() : std::to_string(iv.integer());
        }
        if (v.has("boolValue")) return v["boolValue"].b ? "true" : "false";
        if (v.has("doubleValue")) return std::to_string(v["doubleValue"].n);
        return "?";
    }
    return "";
}

const std::regex kUuidV4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
const std::regex kTimestamp(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$)");

/// A type of the test's own, recorded through the customisation point.
struct Ticket {
    int id;
    std::string subject;
};

}  // namespace

template <>
struct raindrop::text_traits<Ticket> {
    static std::string to_text(const Ticket& t) { return "ticket " + std::to_string(t.id) + ": " + t.subject; }
    static raindrop::Json to_json(const Ticket& t) { return raindrop::Json::object({{"id", t.id}}); }
};

namespace {

struct MyError : std::runtime_error {
    static inline const void* last_address = nullptr;
    int tag;
    MyError(const std::string& m, int t) : std::runtime_error(m), tag(t) { last_address = this; }
};

class RaindropTest : public ::testing::Test {
protected:
    void SetUp() override {
        ::unsetenv("RAINDROP_WRITE_KEY");
        ::unsetenv("RAINDROP_ENDPOINT");
    }

    raindrop::Config config(bool tracing = false) const {
        raindrop::Config c;
        c.api_key = "test-key";
        c.endpoint = server.base_url();
        c.user_id = "user-1";
        c.tracing_enabled = tracing;
        c.flush_interval = 20ms;
        c.shutdown_timeout = 5s;
        c.retry_initial_backoff = 20ms;
        c.retry_max_backoff = 100ms;
        return c;
    }

    bool wait_items(const std::string& route, std::size_t n) {
        return server.wait_for([&](const std::vector<Request>& r) { return count_items(r, route) >= n; },
                               kWait);
    }

    Sink server;
};

// ---------------------------------------------------------------------------------------------

TEST_F(RaindropTest, WrapSendsOneEventWithTheDocumentedShape) {
    raindrop::Client client(config());
    auto qa = client.wrap("qa", [](const raindrop::Inputs& in) {
        raindrop::current_call()->set_model("gpt-4o-mini").set_usage(12, 5).set_finish_reason("stop");
        return raindrop::Outputs{{"answer", "4 (" + in.at("question") + ")"}};
    });
    raindrop::Outputs out = qa({{"question", "What is 2+2?"}});
    EXPECT_EQ(out.at("answer"), "4 (What is 2+2?)");
    EXPECT_EQ(raindrop::current_call(), nullptr);
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 1));

    const auto reqs = server.requests_for("events/track");
    ASSERT_FALSE(reqs.empty());
    EXPECT_EQ(reqs[0].method, "POST");
    EXPECT_EQ(reqs[0].header("authorization"), "Bearer test-key");
    EXPECT_NE(reqs[0].header("content-type").find("application/json"), std::string::npos);

    const auto evs = items(server.requests(), "events/track");
    ASSERT_EQ(evs.size(), 1u);
    const auto& ev = evs[0];
    EXPECT_TRUE(std::regex_match(ev["event_id"].str(), kUuidV4)) << ev["event_id"].str();
    EXPECT_EQ(ev["user_id"].str(), "user-1");
    EXPECT_EQ(ev["event"].str(), "ai_generation");
    EXPECT_TRUE(std::regex_match(ev["timestamp"].str(), kTimestamp)) << ev["timestamp"].str();
    EXPECT_FALSE(ev.has("input"));
    const auto& ai = ev["ai_data"];
    EXPECT_EQ(ai["input"].str(), R"({"question":"What is 2+2?"})");
    EXPECT_EQ(ai["output"].str(), R"j({"answer":"4 (What is 2+2?)"})j");
    EXPECT_EQ(ai["model"].str(), "gpt-4o-mini");
    const auto& props = ev["properties"];
    EXPECT_EQ(props["ai.usage.prompt_tokens"].integer(), 12);
    EXPECT_EQ(props["ai.usage.completion_tokens"].integer(), 5);
    EXPECT_EQ(props["dspy.finish_reason"].str(), "stop");
    EXPECT_TRUE(props["$context"].is_object());
    EXPECT_FALSE(props.has("error.type"));
}

TEST_F(RaindropTest, WrapAcceptsCallablesReturningStringsAndOtherArguments) {
    raindrop::Client client(config());
    auto echo = client.wrap("echo", [](const raindrop::Inputs& in) { return "echo: " + in.at("q"); });
    auto two = client.wrap("two", [](const std::string& a, int b) { return a + std::to_string(b); });
    int counter = 0;
    auto mut = client.wrap("mutable", [counter](const raindrop::Inputs&) mutable {
        ++counter;
        return std::string("n=") + std::to_string(counter);
    });
    EXPECT_EQ(echo({{"q", "hi\n\"there\""}}), "echo: hi\n\"there\"");
    EXPECT_EQ(two("x", 7), "x7");
    EXPECT_EQ(mut(raindrop::Inputs{}), "n=1");
    EXPECT_EQ(mut(raindrop::Inputs{}), "n=2");
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 4));
    std::map<std::string, mjson::Value> by_output;
    for (const auto& ev : items(server.requests(), "events/track"))
        by_output[ev["ai_data"]["output"].str()] = ev;
    ASSERT_EQ(by_output.count("echo: hi\n\"there\""), 1u);
    EXPECT_EQ(by_output["echo: hi\n\"there\""]["ai_data"]["input"].str(), R"({"q":"hi\n\"there\""})");
    ASSERT_EQ(by_output.count("x7"), 1u);
    EXPECT_EQ(by_output["x7"]["ai_data"]["input"].str(), "x\n7");
    ASSERT_EQ(by_output.count("n=2"), 1u);
    EXPECT_FALSE(by_output["n=2"]["ai_data"].has("input"));  // empty inputs: absent
}

TEST_F(RaindropTest, ExceptionIsRecordedAndRethrownUnchanged) {
    raindrop::Client client(config());
    const void* thrown_at = nullptr;
    auto failing = client.wrap("failing", [&thrown_at](const raindrop::Inputs&) -> raindrop::Outputs {
        MyError::last_address = nullptr;
        try {
            throw MyError("the model refused", 42);
        } catch (...) {
            thrown_at = MyError::last_address;
            throw;
        }
    });
    try {
        failing({{"question", "q"}});
        FAIL() << "no exception";
    } catch (const MyError& e) {
        EXPECT_EQ(std::string(e.what()), "the model refused");
        EXPECT_EQ(e.tag, 42);
        EXPECT_EQ(static_cast<const void*>(&e), thrown_at) << "the exception object was copied";
    }
    auto odd = client.wrap("odd", [](const raindrop::Inputs&) -> std::string { throw 7; });
    try {
        odd({{"question", "q2"}});
        FAIL() << "no exception";
    } catch (int v) {
        EXPECT_EQ(v, 7);
    }
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 2));
    const auto evs = items(server.requests(), "events/track");
    ASSERT_EQ(evs.size(), 2u);
    for (const auto& ev : evs) {
        const auto& props = ev["properties"];
        EXPECT_FALSE(ev["ai_data"].has("output"));
        if (ev["ai_data"]["input"].str() == R"({"question":"q"})") {
            EXPECT_NE(props["error.type"].str().find("MyError"), std::string::npos) << props["error.type"].str();
            EXPECT_EQ(props["error.message"].str(), "the model refused");
        } else {
            EXPECT_EQ(props["error.type"].str(), "int");
        }
    }
    EXPECT_EQ(raindrop::current_call(), nullptr);
}

TEST_F(RaindropTest, NestedWrappedCallsMakeOneEvent) {
    raindrop::Client client(config(false));
    auto inner = client.wrap("inner", [](const raindrop::Inputs& in) {
        return raindrop::Outputs{{"x", in.at("x") + "!"}};
    });
    auto outer = client.wrap("outer", [&inner](const raindrop::Inputs& in) {
        const raindrop::CallContext* me = raindrop::current_call();
        auto a = inner({{"x", in.at("q")}});
        EXPECT_EQ(raindrop::current_call(), me);
        auto b = inner({{"x", a.at("x")}});
        return raindrop::Outputs{{"answer", b.at("x")}};
    });
    EXPECT_EQ(outer({{"q", "hey"}}).at("answer"), "hey!!");
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 1));
    const auto evs = items(server.requests(), "events/track");
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0]["ai_data"]["output"].str(), R"({"answer":"hey!!"})");
    EXPECT_TRUE(server.requests_for("traces").empty());
}

TEST_F(RaindropTest, NestedWrappedCallsBecomeChildSpansWhenTracing) {
    raindrop::Client client(config(true));
    auto inner = client.wrap("inner", [](const raindrop::Inputs& in) { return in.at("x") + "!"; });
    auto outer = client.wrap("outer", [&inner](const raindrop::Inputs& in) {
        return raindrop::Outputs{{"answer", inner({{"x", in.at("q")}})}};
    });
    outer({{"q", "hey"}});
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 1));
    ASSERT_TRUE(server.wait_for([](const std::vector<Request>& r) { return spans_of(r).size() >= 2; }, kWait));
    const auto evs = items(server.requests(), "events/track");
    ASSERT_EQ(evs.size(), 1u);
    const std::string event_id = evs[0]["event_id"].str();
    const auto spans = spans_of(server.requests());
    ASSERT_EQ(spans.size(), 2u);
    const mjson::Value* root = nullptr;
    const mjson::Value* child = nullptr;
    for (const auto& s : spans) {
        if (s["parentSpanId"].str().empty())
            root = &s;
        else
            child = &s;
    }
    ASSERT_NE(root, nullptr);
    ASSERT_NE(child, nullptr);
    EXPECT_EQ(child->operator[]("parentSpanId").str(), root->operator[]("spanId").str());
    EXPECT_EQ(child->operator[]("traceId").str(), root->operator[]("traceId").str());
    EXPECT_NE(root->operator[]("name").str().find("outer"), std::string::npos);
    EXPECT_NE(child->operator[]("name").str().find("inner"), std::string::npos);
    EXPECT_EQ(attr(*root, "traceloop.association.properties.event_id"), event_id);
    EXPECT_EQ(attr(*child, "traceloop.association.properties.event_id"), event_id);
}

TEST_F(RaindropTest, ManualGuardsExplicitParentAcrossThreads) {
    raindrop::Client client(config());
    auto leaf = client.wrap("leaf", [](const raindrop::Inputs& in) { return in.at("v"); });
    std::string event_id;
    {
        raindrop::Call outer = client.call("pipeline", std::string("start"));
        ASSERT_TRUE(outer);
        event_id = outer->event_id();
        EXPECT_TRUE(std::regex_match(event_id, kUuidV4)) << event_id;
        EXPECT_EQ(raindrop::current_call(), outer.get());
        std::thread worker([&] {
            EXPECT_EQ(raindrop::current_call(), nullptr);  // the stack is per thread
            raindrop::CallOptions opts;
            opts.parent = outer.get();
            raindrop::Call sub = client.call("worker", std::string("w"), opts);
            EXPECT_EQ(sub->event_id(), event_id);  // nested: reports into the top-level event
            EXPECT_EQ(leaf({{"v", "from worker"}}), "from worker");  // child of `sub`
            sub->set_output("w done");
        });
        worker.join();
        outer->set_output("all done").set_property("stage", "final").set_property("n", 3);
    }  // guard ends the call
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 1));
    const auto evs = items(server.requests(), "events/track");
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0]["event_id"].str(), event_id);
    EXPECT_EQ(evs[0]["ai_data"]["input"].str(), "start");
    EXPECT_EQ(evs[0]["ai_data"]["output"].str(), "all done");
    EXPECT_EQ(evs[0]["properties"]["stage"].str(), "final");
    EXPECT_EQ(evs[0]["properties"]["n"].integer(), 3);
}

TEST_F(RaindropTest, GuardLeftByExceptionRecordsAnError) {
    raindrop::Client client(config());
    try {
        raindrop::Call c = client.call("risky", std::string("in"));
        throw std::runtime_error("boom");
    } catch (const std::runtime_error&) {
    }
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 1));
    const auto evs = items(server.requests(), "events/track");
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_FALSE(evs[0]["properties"]["error.type"].str().empty());
}

TEST_F(RaindropTest, LmSpanUsageRollsUpIntoTheEvent) {
    raindrop::Client client(config(true));
    auto program = client.wrap("program", [](const raindrop::Inputs& in) {
        {
            raindrop::Span lm = raindrop::current_call()->lm_span("openai/gpt-4o-mini", in.at("q"));
            lm->set_model("gpt-4o-mini").set_usage(11, 7).set_finish_reason("length").set_output("an answer");
        }
        {
            raindrop::Span tool = raindrop::current_call()->tool_span("search", std::string("query"));
            tool->set_output("3 results");
        }
        return std::string("an answer");
    });
    program({{"q", "prompt text"}});
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 1));
    const auto evs = items(server.requests(), "events/track");
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0]["ai_data"]["model"].str(), "gpt-4o-mini");
    EXPECT_EQ(evs[0]["properties"]["ai.usage.prompt_tokens"].integer(), 11);
    EXPECT_EQ(evs[0]["properties"]["ai.usage.completion_tokens"].integer(), 7);
    EXPECT_EQ(evs[0]["properties"]["dspy.finish_reason"].str(), "length");
    ASSERT_TRUE(server.wait_for([](const std::vector<Request>& r) { return spans_of(r).size() >= 3; }, kWait));
    const auto spans = spans_of(server.requests());
    EXPECT_EQ(spans.size(), 3u);
    bool saw_lm = false, saw_tool = false;
    for (const auto& s : spans) {
        if (attr(s, "gen_ai.response.model") == "gpt-4o-mini") saw_lm = true;
        if (attr(s, "traceloop.span.kind") == "tool") saw_tool = true;
    }
    EXPECT_TRUE(saw_lm);
    EXPECT_TRUE(saw_tool);
}

TEST_F(RaindropTest, StandaloneToolSpanShipsWithTracingOff) {
    raindrop::Client client(config(false));
    {
        raindrop::Span tool = client.span(raindrop::SpanKind::tool, "calculator", std::string("2+2"));
        tool->set_output("4");
    }
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(server.wait_for([](const std::vector<Request>& r) { return spans_of(r).size() >= 1; }, kWait));
    const auto spans = spans_of(server.requests());
    ASSERT_EQ(spans.size(), 1u);
    EXPECT_EQ(attr(spans[0], "traceloop.span.kind"), "tool");
}

TEST_F(RaindropTest, ManyThreadsThroughOneWrappedCallable) {
    raindrop::Config cfg = config();
    raindrop::Client client(cfg);
    const auto double_it = client.wrap("double", [](const raindrop::Inputs& in) {
        raindrop::set_usage(static_cast<std::int64_t>(in.at("i").size()), 1);
        return raindrop::Outputs{{"o", in.at("i") + "-out"}};
    });
    constexpr int kThreads = 8, kCalls = 200;
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int n = 0; n < kCalls; ++n) {
                const std::string i = std::to_string(t) + "-" + std::to_string(n);
                if (double_it({{"i", i}}).at("o") != i + "-out") ++mismatches;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(mismatches.load(), 0);
    ASSERT_TRUE(client.flush(30s));
    ASSERT_TRUE(wait_items("events/track", kThreads * kCalls));
    const auto evs = items(server.requests(), "events/track");
    ASSERT_EQ(evs.size(), static_cast<std::size_t>(kThreads * kCalls));
    std::set<std::string> inputs, ids;
    for (const auto& ev : evs) {
        const auto in = mjson::parse(ev["ai_data"]["input"].str());
        const auto out = mjson::parse(ev["ai_data"]["output"].str());
        EXPECT_EQ(out["o"].str(), in["i"].str() + "-out");
        EXPECT_EQ(ev["properties"]["ai.usage.prompt_tokens"].integer(),
                  static_cast<long long>(in["i"].str().size()));
        inputs.insert(in["i"].str());
        ids.insert(ev["event_id"].str());
    }
    EXPECT_EQ(inputs.size(), static_cast<std::size_t>(kThreads * kCalls));
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kCalls));
    const raindrop::Stats st = client.stats();
    EXPECT_GE(st.delivered, static_cast<std::uint64_t>(kThreads * kCalls));
    EXPECT_EQ(st.queue_depth, 0u);
    EXPECT_EQ(st.last_http_status, 200);
}

TEST_F(RaindropTest, Identify) {
    raindrop::Client client(config());
    client.identify("user-42", {{"plan", "team"}, {"seats", 12}, {"beta", true},
                                {"address", raindrop::Json::object({{"city", "Oslo"}})}});
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("users/identify", 1));
    const auto ids = items(server.requests(), "users/identify");
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(ids[0]["user_id"].str(), "user-42");
    EXPECT_EQ(ids[0]["traits"]["plan"].str(), "team");
    EXPECT_EQ(ids[0]["traits"]["seats"].integer(), 12);
    EXPECT_TRUE(ids[0]["traits"]["beta"].b);
    EXPECT_EQ(ids[0]["traits"]["address"]["city"].str(), "Oslo");
}

TEST_F(RaindropTest, SignalsOfAllThreeKinds) {
    raindrop::Client client(config());
    const std::string id = client.track_ai([] {
        raindrop::Event e;
        e.input = "question";
        e.output = "answer";
        e.model = "m1";
        e.convo_id = "c-1";
        e.properties = {{"channel", "chat"}};
        return e;
    }());
    ASSERT_TRUE(std::regex_match(id, kUuidV4)) << id;

    raindrop::Signal thumbs;
    thumbs.event_id = id;
    thumbs.name = "thumbs_up";
    thumbs.sentiment = "POSITIVE";
    thumbs.timestamp = "2026-03-02T08:20:00.000Z";
    thumbs.attachment_id = "att-1";
    thumbs.properties = {{"source", "ui"}};
    client.track_signal(thumbs);

    raindrop::Signal feedback;
    feedback.event_id = id;
    feedback.name = "user_feedback";
    feedback.type = "feedback";
    feedback.comment = "Missed the refund policy";
    feedback.sentiment = "NEGATIVE";
    client.track_signal(feedback);

    raindrop::Signal edit;
    edit.event_id = id;
    edit.name = "user_edit";
    edit.type = "edit";
    edit.after = "The corrected answer";
    client.track_signal(edit);

    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("signals/track", 3));
    ASSERT_TRUE(wait_items("events/track", 1));
    const auto ev = items(server.requests(), "events/track").at(0);
    EXPECT_EQ(ev["event_id"].str(), id);
    EXPECT_EQ(ev["ai_data"]["convo_id"].str(), "c-1");
    EXPECT_EQ(ev["ai_data"]["model"].str(), "m1");
    EXPECT_EQ(ev["properties"]["channel"].str(), "chat");

    std::map<std::string, mjson::Value> by_name;
    for (const auto& s : items(server.requests(), "signals/track")) by_name[s["signal_name"].str()] = s;
    ASSERT_EQ(by_name.size(), 3u);
    const auto& t = by_name["thumbs_up"];
    EXPECT_EQ(t["event_id"].str(), id);
    EXPECT_EQ(t["signal_type"].str(), "default");
    EXPECT_EQ(t["sentiment"].str(), "POSITIVE");
    EXPECT_EQ(t["attachment_id"].str(), "att-1");
    EXPECT_EQ(t["properties"]["source"].str(), "ui");
    EXPECT_EQ(t["timestamp"].str().substr(0, 19), "2026-03-02T08:20:00");
    const auto& f = by_name["user_feedback"];
    EXPECT_EQ(f["signal_type"].str(), "feedback");
    EXPECT_EQ(f["properties"]["comment"].str(), "Missed the refund policy");
    EXPECT_EQ(f["sentiment"].str(), "NEGATIVE");
    EXPECT_FALSE(f.has("comment"));
    const auto& e = by_name["user_edit"];
    EXPECT_EQ(e["signal_type"].str(), "edit");
    EXPECT_EQ(e["properties"]["after"].str(), "The corrected answer");
}

TEST_F(RaindropTest, ErrorsFromTheCoreAreRaindropErrorsWithCodes) {
    raindrop::Config bad = config();
    bad.extra["no_such_key"] = 1;
    try {
        raindrop::Client c(bad);
        FAIL() << "no exception";
    } catch (const raindrop::Error& e) {
        EXPECT_EQ(e.code(), raindrop::Code::invalid_config);
        EXPECT_NE(std::string(e.what()).find("no_such_key"), std::string::npos) << e.what();
    }

    raindrop::Client client(config());
    auto expect_code = [&](raindrop::Signal s, raindrop::Code code, const char* mentions) {
        try {
            client.track_signal(s);
            ADD_FAILURE() << "no exception for " << mentions;
        } catch (const raindrop::Error& e) {
            EXPECT_EQ(e.code(), code) << e.what();
            EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
        }
    };
    raindrop::Signal s;
    s.event_id = "evt-1";
    s.name = "thumbs";
    s.type = "bogus";
    expect_code(s, raindrop::Code::invalid_signal_type, "signal_type");
    s.type.reset();
    s.sentiment = "MAYBE";
    expect_code(s, raindrop::Code::invalid_sentiment, "sentiment");
    s.sentiment.reset();
    s.timestamp = "yesterday";
    expect_code(s, raindrop::Code::invalid_timestamp, "timestamp");

    EXPECT_TRUE(client.shutdown(5s));
    EXPECT_TRUE(client.shutdown(5s));  // harmless twice
    EXPECT_NO_THROW(client.stats());   // the final statistics the shutdown handed back
    try {
        client.flush(1s);
        FAIL() << "no exception";
    } catch (const raindrop::Error& e) {
        EXPECT_EQ(e.code(), raindrop::Code::invalid_handle);
    }
    EXPECT_THROW(client.identify("u"), raindrop::Error);
}

TEST_F(RaindropTest, HotPathNeverThrowsTelemetryErrors) {
    raindrop::Client client(config());
    auto f = client.wrap("f", [](const raindrop::Inputs& in) { return in.at("a"); });
    ASSERT_TRUE(client.shutdown(5s));
    const auto before = raindrop::swallowed_errors();
    EXPECT_EQ(f({{"a", "still works"}}), "still works");
    {
        raindrop::Call c = client.call("after-shutdown");
        c->set_output("x");
        raindrop::Span lm = c->lm_span("lm");
    }
    EXPECT_EQ(client.track_ai(raindrop::Event{}), "");
    EXPECT_GT(raindrop::swallowed_errors(), before);
}

TEST_F(RaindropTest, FlushAndShutdownReturnWithinTimeoutAgainstAHangingServer) {
    server.set_hang(true);
    raindrop::Client client(config());
    auto f = client.wrap("f", [](const raindrop::Inputs& in) { return in.at("a"); });
    f({{"a", "b"}});
    ASSERT_TRUE(server.wait_for([](const std::vector<Request>& r) { return !r.empty(); }, kWait));
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(client.flush(300ms));
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 3s);
    f({{"a", "c"}});  // still usable after a timed-out flush
    t0 = std::chrono::steady_clock::now();
    client.shutdown(500ms);  // returns by its deadline whatever the sink does
    took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, 3s);
    EXPECT_FALSE(client);
}

TEST_F(RaindropTest, DestructorUsesTheConfiguredShutdownTimeout) {
    server.set_hang(true);
    auto t0 = std::chrono::steady_clock::now();
    {
        raindrop::Config cfg = config();
        cfg.shutdown_timeout = 400ms;
        raindrop::Client client(cfg);
        client.track_ai([] {
            raindrop::Event e;
            e.input = "x";
            return e;
        }());
        server.wait_for([](const std::vector<Request>& r) { return !r.empty(); }, kWait);
        t0 = std::chrono::steady_clock::now();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST_F(RaindropTest, MoveSemantics) {
    raindrop::Client a(config());
    const rd_client h = a.handle();
    ASSERT_NE(h.id, 0u);
    auto f = a.wrap("f", [](const raindrop::Inputs& in) { return in.at("k"); });

    raindrop::Client b(std::move(a));
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    EXPECT_EQ(a.handle().id, 0u);
    EXPECT_EQ(b.handle().id, h.id);
    try {
        a.stats();
        FAIL() << "no exception";
    } catch (const raindrop::Error& e) {
        EXPECT_EQ(e.code(), raindrop::Code::invalid_handle);
    }
    EXPECT_EQ(f({{"k", "v1"}}), "v1");  // wrapped before the move: still records into b

    raindrop::Client c(config());
    c = std::move(b);  // c's old client is shut down, c now owns h
    EXPECT_EQ(c.handle().id, h.id);

    auto g = std::move(f);  // wrapped callables move (and copy) like their callable
    auto g2 = g;
    EXPECT_EQ(g2({{"k", "v2"}}), "v2");

    raindrop::Call call1 = c.call("moved-guard", std::string("in"));
    raindrop::CallContext* ctx = call1.get();
    raindrop::Call call2 = std::move(call1);
    EXPECT_FALSE(call1);
    EXPECT_EQ(call2.get(), ctx);
    EXPECT_EQ(raindrop::current_call(), ctx);
    call2->set_output("out");
    call2.reset();  // ends it
    EXPECT_EQ(raindrop::current_call(), nullptr);

    ASSERT_TRUE(c.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 3));
    std::set<std::string> outputs;
    for (const auto& ev : items(server.requests(), "events/track")) outputs.insert(ev["ai_data"]["output"].str());
    EXPECT_EQ(outputs, (std::set<std::string>{"v1", "v2", "out"}));
}

TEST_F(RaindropTest, StatsCountDeliveries) {
    raindrop::Client client(config());
    auto f = client.wrap("f", [](const raindrop::Inputs& in) { return in.at("k"); });
    for (int i = 0; i < 5; ++i) f({{"k", std::to_string(i)}});
    ASSERT_TRUE(client.flush(10s));
    const auto st = client.stats();
    EXPECT_EQ(st.queued, 5u);
    EXPECT_EQ(st.delivered, 5u);
    EXPECT_GE(st.requests, 1u);
    EXPECT_GT(st.bytes_sent, 0u);
    EXPECT_EQ(st.dropped_rejected, 0u);
    EXPECT_EQ(st.last_http_status, 200);
}

TEST_F(RaindropTest, SpoolDirWritesEveryBatchBeforeSendingIt) {
    char tmpl[] = "/tmp/raindrop-cpp-spool-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string dir = std::string(tmpl) + "/spool";
    {
        raindrop::Config cfg = config();
        cfg.spool_dir = dir;
        cfg.spool_max_bytes = 1u << 20;
        raindrop::Client client(cfg);
        auto f = client.wrap("f", [](const raindrop::Inputs& in) { return in.at("k"); });
        for (int i = 0; i < 3; ++i) f({{"k", std::to_string(i)}});
        ASSERT_TRUE(client.flush(10s));
        const auto st = client.stats();
        EXPECT_EQ(st.spooled, 3u);
        EXPECT_EQ(st.delivered, 3u);
        EXPECT_EQ(st.spool_pending, 0u);
        EXPECT_EQ(st.replayed, 0u);
        EXPECT_EQ(st.spool_dropped, 0u);
    }
    const auto cfg = [&] {
        raindrop::Config c;
        c.spool_dir = dir;
        c.spool_max_bytes = 5;
        return mjson::parse(c.to_json());
    }();
    EXPECT_EQ(cfg["spool_dir"].str(), dir);
    EXPECT_EQ(cfg["spool_max_bytes"].integer(), 5);
    ASSERT_TRUE(std::filesystem::is_directory(dir));  // the core created it
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        EXPECT_NE(entry.path().extension(), ".seg") << "delivered batches leave no segment: " << entry.path();
    }
    std::filesystem::remove_all(tmpl);
}

TEST_F(RaindropTest, RejectedBatchIsDroppedAndCountedNotThrown) {
    server.set_status(400);
    raindrop::Client client(config());
    auto f = client.wrap("f", [](const raindrop::Inputs& in) { return in.at("k"); });
    EXPECT_EQ(f({{"k", "v"}}), "v");
    EXPECT_TRUE(client.flush(10s));  // drops show in the statistics, not as a flush error
    const auto st = client.stats();
    EXPECT_EQ(st.dropped_rejected, 1u);
    EXPECT_EQ(st.last_http_status, 400);
}

TEST_F(RaindropTest, PerCallOptionsOverrideClientDefaults) {
    raindrop::Client client(config());
    raindrop::CallOptions opts;
    opts.user_id = "user-override";
    opts.convo_id = "convo-7";
    opts.event_name = "qa_call";
    int n = 0;
    opts.make_event_id = [&n] { return "evt-" + std::to_string(++n); };
    auto f = client.wrap("f", [](const raindrop::Inputs& in) { return in.at("k"); }, opts);
    f({{"k", "1"}});
    f({{"k", "2"}});
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 2));
    std::set<std::string> ids;
    for (const auto& ev : items(server.requests(), "events/track")) {
        ids.insert(ev["event_id"].str());
        EXPECT_EQ(ev["user_id"].str(), "user-override");
        EXPECT_EQ(ev["event"].str(), "qa_call");
        EXPECT_EQ(ev["ai_data"]["convo_id"].str(), "convo-7");
    }
    EXPECT_EQ(ids, (std::set<std::string>{"evt-1", "evt-2"}));
}

TEST_F(RaindropTest, NoApiKeyDisablesTelemetry) {
    raindrop::Config cfg = config();
    cfg.api_key.reset();
    raindrop::Client client(cfg);
    auto f = client.wrap("f", [](const raindrop::Inputs& in) { return in.at("k"); });
    EXPECT_EQ(f({{"k", "v"}}), "v");
    client.identify("u");
    EXPECT_TRUE(client.flush(5s));  // nothing was queued: nothing can arrive later
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(RaindropTest, FileSinkWritesOneJsonLinePerRequest) {
    char tmpl[] = "/tmp/raindrop-cpp-test-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ::close(fd);
    const std::string path = tmpl;
    {
        raindrop::Config cfg = config();
        cfg.endpoint = "file://" + path;
        raindrop::Client client(cfg);
        auto f = client.wrap("f", [](const raindrop::Inputs& in) { return in.at("k"); });
        f({{"k", "to the file"}});
        ASSERT_TRUE(client.flush(10s));
    }
    std::ifstream in(path);
    std::string line;
    bool found = false;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const auto v = mjson::parse(line);
        if (v["route"].str().find("events/track") == std::string::npos) continue;
        const auto& body = v["body"];
        const auto& ev = body.is_array() ? body[0] : body;
        EXPECT_EQ(ev["ai_data"]["output"].str(), "to the file");
        found = true;
    }
    EXPECT_TRUE(found);
    std::remove(path.c_str());
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(RaindropTest, PlainTrackAndAttachments) {
    raindrop::Client client(config());
    raindrop::Event plain;
    plain.event = "ticket_closed";
    plain.user_id = "user-9";
    plain.properties = {{"reason", "resolved"}, {"n", 2}};
    const std::string plain_id = client.track(plain);
    EXPECT_TRUE(std::regex_match(plain_id, kUuidV4)) << plain_id;
    {
        raindrop::Call c = client.call("with-attachments", std::string("in"));
        raindrop::Attachment a;
        a.type = "code";
        a.role = "input";
        a.name = "query.sql";
        a.value = "select 1;";
        a.language = "sql";
        c->add_attachment(a).set_output("out");
    }
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 2));
    std::map<std::string, mjson::Value> by_event;
    for (const auto& ev : items(server.requests(), "events/track")) by_event[ev["event"].str()] = ev;
    const auto& p = by_event["ticket_closed"];
    EXPECT_EQ(p["event_id"].str(), plain_id);
    EXPECT_EQ(p["user_id"].str(), "user-9");
    EXPECT_FALSE(p.has("ai_data"));
    EXPECT_EQ(p["properties"]["reason"].str(), "resolved");
    EXPECT_EQ(p["properties"]["n"].integer(), 2);
    const auto& w = by_event["ai_generation"];
    ASSERT_EQ(w["attachments"].size(), 1u);
    EXPECT_EQ(w["attachments"][0]["type"].str(), "code");
    EXPECT_EQ(w["attachments"][0]["role"].str(), "input");
    EXPECT_EQ(w["attachments"][0]["name"].str(), "query.sql");
    EXPECT_EQ(w["attachments"][0]["value"].str(), "select 1;");
    EXPECT_EQ(w["attachments"][0]["language"].str(), "sql");
}

TEST_F(RaindropTest, FullQueueIsNeverThrown) {
    server.set_hang(true);
    raindrop::Config cfg = config();
    cfg.max_queue_items = 2;
    cfg.shutdown_timeout = 300ms;
    raindrop::Client client(cfg);
    auto f = client.wrap("f", [](const raindrop::Inputs& in) { return in.at("k"); });
    for (int i = 0; i < 50; ++i) {
        EXPECT_EQ(f({{"k", std::to_string(i)}}), std::to_string(i));
        EXPECT_NO_THROW(client.identify("u" + std::to_string(i)));
        raindrop::Signal s;
        s.event_id = "e";
        s.name = "n";
        EXPECT_NO_THROW(client.track_signal(s));
    }
    EXPECT_GT(client.stats().dropped_queue_full, 0u);
}

TEST_F(RaindropTest, TooManyOpenCallsIsSwallowedOnGuards) {
    raindrop::Config cfg = config();
    cfg.max_open_calls = 1;
    raindrop::Client client(cfg);
    const auto before = raindrop::swallowed_errors();
    raindrop::CallOptions detached;
    detached.detached = true;
    raindrop::Call first = client.call("first", std::string("a"), detached);
    raindrop::Call second = client.call("second", std::string("b"), detached);  // refused by the core
    EXPECT_NE(first->handle().id, 0u);
    EXPECT_EQ(second->handle().id, 0u);
    EXPECT_GT(raindrop::swallowed_errors(), before);
    second->set_output("ignored");
    EXPECT_FALSE(second->end());
    first->set_output("kept");
    EXPECT_TRUE(first->end());
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 1));
    const auto evs = items(server.requests(), "events/track");
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0]["ai_data"]["output"].str(), "kept");
}

TEST_F(RaindropTest, TlsSettingsReachTheCore) {
    // SSL_CERT_FILE would win over tls_roots: off for this test, restored after.
    const char* saved = std::getenv("SSL_CERT_FILE");
    const std::string saved_value = saved ? saved : "";
    ::setenv("SSL_CERT_FILE", "", 1);
    const std::string not_pem = "/tmp/rd-cpp-not-pem-" + std::to_string(::getpid()) + ".pem";
    std::ofstream(not_pem) << "no certificate here\n";
    auto refused = [&](raindrop::Config cfg, const std::string& mentions) {
        try {
            raindrop::Client c(cfg);
            ADD_FAILURE() << "no exception: " << mentions;
        } catch (const raindrop::Error& e) {
            EXPECT_EQ(e.code(), raindrop::Code::invalid_config);
            EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
        }
    };
    raindrop::Config cfg = config();
    cfg.ca_file = "/nonexistent/rd-ca.pem";
    refused(cfg, "ca_file (or SSL_CERT_FILE) cannot be read");
    cfg.ca_file = not_pem;
    refused(cfg, "ca_file (or SSL_CERT_FILE) holds no PEM certificate");
    cfg.ca_file.reset();
    cfg.tls_roots = "none";
    refused(cfg, R"(tls_roots must be "webpki" or "platform")");
    cfg.tls_roots = "platform";
    EXPECT_NO_THROW(raindrop::Client ok(cfg));
    std::remove(not_pem.c_str());
    if (saved)
        ::setenv("SSL_CERT_FILE", saved_value.c_str(), 1);
    else
        ::unsetenv("SSL_CERT_FILE");
}

TEST_F(RaindropTest, MaxOpenCallBytesRefusalsAreCounted) {
    raindrop::Config cfg = config();
    cfg.max_open_call_bytes = 1024;
    raindrop::Client client(cfg);
    raindrop::CallOptions detached;
    detached.detached = true;
    raindrop::Call big = client.call("big", std::string(4096, 'x'), detached);  // refused by the core
    raindrop::Call small = client.call("small", std::string("a"), detached);
    EXPECT_EQ(big->handle().id, 0u);
    EXPECT_NE(small->handle().id, 0u);
    small->set_output("kept");
    EXPECT_TRUE(small->end());
    EXPECT_EQ(client.stats().calls_refused, 1u);
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 1));
    const auto evs = items(server.requests(), "events/track");
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0]["ai_data"]["output"].str(), "kept");
}

TEST_F(RaindropTest, ServiceNameReachesTheTraces) {
    raindrop::Config cfg = config(true);
    cfg.service_name = "checkout-bot";
    raindrop::Client client(cfg);
    auto qa = client.wrap("qa", [](const raindrop::Inputs&) { return raindrop::Outputs{{"answer", "4"}}; });
    qa({{"question", "q"}});
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(server.wait_for([](const std::vector<Request>& r) { return spans_of(r).size() >= 1; }, kWait));
    std::vector<std::string> names;
    for (const auto& r : server.requests_for("traces")) {
        const mjson::Value body = mjson::parse(r.body);
        for (const auto& rs : body["resourceSpans"].a) names.push_back(attr(rs["resource"], "service.name"));
    }
    ASSERT_FALSE(names.empty());
    EXPECT_EQ(names[0], "checkout-bot");
}

// Every key the core's configuration accepts (src/config.rs, RawConfig) has a typed Config field:
// a Config with every field set writes exactly those keys.
TEST(RaindropConfig, CoversEveryCoreKey) {
    const std::string here = __FILE__;  // <repo>/bindings/cpp/tests/raindrop_test.cpp
    std::ifstream f(here.substr(0, here.rfind('/')) + "/../../../src/config.rs");
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string src = ss.str();
    const auto begin = src.find("struct RawConfig {");
    ASSERT_NE(begin, std::string::npos) << "struct RawConfig not found in src/config.rs";
    const std::string fields = src.substr(begin, src.find("\n}", begin) - begin);
    std::set<std::string> core;
    const std::regex field(R"(\n\s*([a-z_]+):)");
    for (std::sregex_iterator it(fields.begin(), fields.end(), field), end; it != end; ++it) core.insert((*it)[1]);
    ASSERT_GT(core.size(), 30u);

    raindrop::Config c;
    c.api_key = c.endpoint = c.traces_endpoint = c.project_id = c.user_id = c.convo_id = c.event_name = "x";
    c.local_workshop_url = c.spool_dir = c.library_name = c.library_version = c.language = "x";
    c.service_name = c.ca_file = c.tls_roots = "x";
    c.tracing_enabled = c.bypass_otel_for_tools = c.debug = c.redact_pii = true;
    c.spool_max_bytes = c.max_queue_items = c.max_queue_bytes = c.max_batch_events = c.max_batch_bytes = 1;
    c.max_text_field_chars = c.max_open_calls = c.max_open_call_bytes = 1;
    c.flush_interval = c.request_timeout = c.connect_timeout = c.retry_initial_backoff = c.retry_max_backoff = 1ms;
    c.retry_after_cap = c.retry_budget = c.shutdown_timeout = c.flush_timeout = c.open_call_ttl = 1ms;
    std::set<std::string> written;
    for (const auto& kv : mjson::parse(c.to_json()).o) written.insert(kv.first);
    EXPECT_EQ(written, core);
}

TEST(RaindropJson, EscapesAndBuildsValues) {
    using raindrop::Json;
    EXPECT_EQ(Json("a\"b\\c\n\t\x01").dump(), R"("a\"b\\c\n\t\u0001")");
    EXPECT_EQ(Json(std::string("h\xc3\xa9")).dump(), "\"h\xc3\xa9\"");
    EXPECT_EQ(Json(42).dump(), "42");
    EXPECT_EQ(Json(-7LL).dump(), "-7");
    EXPECT_EQ(Json(true).dump(), "true");
    EXPECT_EQ(Json(nullptr).dump(), "null");
    EXPECT_EQ(Json(0.5).dump(), "0.5");
    EXPECT_EQ(Json(std::nan("")).dump(), "null");
    EXPECT_EQ(Json::object({{"b", 1}, {"a", "x"}}).dump(), R"({"a":"x","b":1})");
    EXPECT_EQ(Json::array({1, "two", Json::object({})}).dump(), R"([1,"two",{}])");
    const auto round = mjson::parse(Json::object({{"k", "\x7f\x1f\"'"}}).dump());
    EXPECT_EQ(round["k"].str(), "\x7f\x1f\"'");
    raindrop::Config c;
    c.api_key = "k\"ey";
    c.flush_interval = std::chrono::seconds(2);
    const auto cfg = mjson::parse(c.to_json());
    EXPECT_EQ(cfg["api_key"].str(), "k\"ey");
    EXPECT_EQ(cfg["flush_interval_ms"].integer(), 2000);
    EXPECT_EQ(raindrop::to_text(raindrop::Inputs{{"q", "v"}}).value(), R"({"q":"v"})");
    EXPECT_FALSE(raindrop::to_text(raindrop::Inputs{}).has_value());
    EXPECT_EQ(raindrop::format_timestamp(std::chrono::system_clock::time_point(std::chrono::milliseconds(1500))),
              "1970-01-01T00:00:01.500Z");
}

TEST(RaindropVersion, CoreVersionIsAvailable) { EXPECT_FALSE(raindrop::core_version().empty()); }

}  // namespace

TEST_F(RaindropTest, StandardContainersAndCustomTypesAreRecorded) {
    raindrop::Client client(config());
    // Taking and returning std::vector<std::string> compiles (issue 10 #10) and records JSON arrays.
    auto reverse = client.wrap("reverse", [](const std::vector<std::string>& words) {
        return std::vector<std::string>(words.rbegin(), words.rend());
    });
    EXPECT_EQ(reverse(std::vector<std::string>{"a", "b\"c"}), (std::vector<std::string>{"b\"c", "a"}));
    auto count = client.wrap("count", [](const std::set<int>& s, const std::deque<double>& d) {
        return std::map<std::string, std::list<std::size_t>>{{"sizes", {s.size(), d.size()}}};
    });
    count(std::set<int>{3, 1, 2}, std::deque<double>{0.5});
    auto triage = client.wrap("triage", [](const Ticket& t) { return std::vector<Ticket>{t, t}; });
    triage(Ticket{7, "refund"});
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 3));
    std::map<std::string, std::pair<std::string, std::string>> by_module;
    for (const auto& ev : items(server.requests(), "events/track")) {
        by_module[ev["properties"]["dspy.module"].str()] = {ev["ai_data"]["input"].str(),
                                                             ev["ai_data"]["output"].str()};
    }
    EXPECT_EQ(by_module["reverse"].first, R"(["a","b\"c"])");
    EXPECT_EQ(by_module["reverse"].second, R"(["b\"c","a"])");
    EXPECT_EQ(by_module["count"].first, "[1,2,3]\n[0.5]");
    EXPECT_EQ(by_module["count"].second, R"({"sizes":[3,1]})");
    EXPECT_EQ(by_module["triage"].first, "ticket 7: refund");
    EXPECT_EQ(by_module["triage"].second, R"([{"id":7},{"id":7}])");
}

TEST(RaindropText, ToTextOfStandardTypes) {
    EXPECT_EQ(raindrop::to_text(std::vector<std::string>{}), "[]");
    EXPECT_EQ(raindrop::to_text(std::array<int, 2>{{1, 2}}), "[1,2]");
    EXPECT_EQ(raindrop::to_text(std::vector<std::optional<std::string>>{std::nullopt, "x"}), R"([null,"x"])");
    EXPECT_EQ(raindrop::to_text(std::map<int, bool>{{2, true}}), R"({"2":true})");
    EXPECT_EQ(raindrop::to_text(std::pair<std::string, int>{"k", 1}), R"(["k",1])");
    EXPECT_FALSE(raindrop::to_text(raindrop::Inputs{}).has_value());  // an empty map: absent
}

TEST_F(RaindropTest, LoggerCallbackReceivesTheCoreWarnings) {
    raindrop::Config cfg = config();
    cfg.api_key.reset();  // no key: the core warns once, at rd_new
    std::mutex m;
    std::vector<std::string> lines;
    cfg.logger = [&](raindrop::LogLevel, std::string_view message) {
        std::lock_guard<std::mutex> g(m);
        lines.emplace_back(message);
    };
    { raindrop::Client client(cfg); }
    std::lock_guard<std::mutex> g(m);
    bool found = false;
    for (const auto& l : lines) found = found || l.find("no api key") != std::string::npos;
    EXPECT_TRUE(found) << "the core's warning did not reach Config::logger";
}

TEST_F(RaindropTest, FinalStatsAfterShutdown) {
    raindrop::Client client(config());
    raindrop::Event ev;
    ev.input = "in";
    ev.output = "out";
    EXPECT_FALSE(client.track_ai(ev).empty());
    EXPECT_TRUE(client.shutdown(10s));
    raindrop::Stats st;
    ASSERT_NO_THROW(st = client.stats());
    EXPECT_EQ(st.queued, 1u);
    EXPECT_EQ(st.delivered, 1u);
}

TEST_F(RaindropTest, EverySpanCarriesTheCallsUserAndConvo) {
    raindrop::Client client(config(true));
    auto inner = client.wrap("inner", [](const raindrop::Inputs& in) {
        raindrop::Span lm = raindrop::current_call()->lm_span("lm", std::string("prompt"));
        lm->set_output("o").set_model("m");
        return in;
    });
    raindrop::CallOptions o;
    o.user_id = "u-call";
    o.convo_id = "c-call";
    auto outer = client.wrap("outer", [&inner](const raindrop::Inputs& in) { return inner(in); }, o);
    outer({{"q", "1"}});
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(server.wait_for([](const std::vector<Request>& r) { return spans_of(r).size() >= 3; }, kWait));
    const auto spans = spans_of(server.requests());
    ASSERT_EQ(spans.size(), 3u);
    for (const auto& s : spans) {
        EXPECT_EQ(attr(s, "traceloop.association.properties.user_id"), "u-call") << s["name"].str();
        EXPECT_EQ(attr(s, "traceloop.association.properties.convo_id"), "c-call") << s["name"].str();
    }
}

TEST(RaindropError, CodeNamesComeFromTheCore) {
    EXPECT_STREQ(raindrop::code_name(raindrop::Code::queue_full), "RD_ERR_QUEUE_FULL");
    EXPECT_STREQ(raindrop::code_name(raindrop::Code::items_dropped), "RD_ERR_ITEMS_DROPPED");
    EXPECT_STREQ(raindrop::code_name(static_cast<raindrop::Code>(12345)), "RD_ERR_UNKNOWN");
}

// The core adds LM tokens up, saturating at the int64 maximum; one LM span with an unknown
// count leaves that total absent.
TEST_F(RaindropTest, TokenRollUpSaturatesAndUnknownStaysAbsent) {
    raindrop::Client client(config(true));
    auto program = client.wrap("program", [](const raindrop::Inputs&) {
        for (int i = 0; i < 2; ++i) {
            raindrop::Span lm = raindrop::current_call()->lm_span("lm", std::string("p"));
            lm->set_model("m").set_usage(INT64_MAX, 5).set_output("o");
        }
        raindrop::Span lm = raindrop::current_call()->lm_span("lm", std::string("p"));
        lm->set_model("m").set_usage(1, RD_TOKENS_UNKNOWN).set_output("o");
        return std::string("done");
    });
    program({{"q", "x"}});
    ASSERT_TRUE(client.flush(10s));
    ASSERT_TRUE(wait_items("events/track", 1));
    const auto evs = items(server.requests(), "events/track");
    ASSERT_EQ(evs.size(), 1u);
    const auto& props = evs[0]["properties"];
    EXPECT_TRUE(props["ai.usage.prompt_tokens"].is_number());
    EXPECT_EQ(props["ai.usage.prompt_tokens"].n, 9223372036854775807.0);  // INT64_MAX as a double
    EXPECT_FALSE(props.has("ai.usage.completion_tokens"));
}

// This layer's own messages (a call the core refused) reach Config::logger too, not stderr.
TEST_F(RaindropTest, LoggerReceivesTheBindingsOwnMessages) {
    raindrop::Config cfg = config();
    std::mutex m;
    std::vector<std::string> lines;
    cfg.logger = [&](raindrop::LogLevel, std::string_view message) {
        std::lock_guard<std::mutex> g(m);
        lines.emplace_back(message);
    };
    raindrop::Client client(cfg);
    auto f = client.wrap("f", [](const raindrop::Inputs& in) {
        raindrop::Attachment empty;  // an empty value: the core refuses the call's result
        raindrop::current_call()->add_attachment(empty);
        return in.at("a");
    });
    raindrop::detail::last_log_ms().store(std::numeric_limits<std::int64_t>::min() / 2);  // no 30 s window
    testing::internal::CaptureStderr();
    EXPECT_EQ(f({{"a", "x"}}), "x");
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(client.shutdown(5s));
    std::lock_guard<std::mutex> g(m);
    bool found = false;
    for (const auto& l : lines) found = found || l.find("rd_wrap_end failed") != std::string::npos;
    EXPECT_TRUE(found) << "the refused call was not logged to Config::logger";
    EXPECT_EQ(err.find("rd_wrap_end failed"), std::string::npos) << err;
}

// Assigning over a live client shuts it down first, while its logger is still alive (the
// defaulted move assignment destroyed the logger before the shutdown that may call it).
TEST_F(RaindropTest, MoveAssignmentShutsTheOldClientDownBeforeItsLoggerGoes) {
    std::mutex m;
    std::vector<std::string> lines;
    raindrop::Config cfg = config();
    cfg.endpoint = "http://127.0.0.1:1/v1/";  // unreachable: the shutdown drops and logs
    cfg.shutdown_timeout = 200ms;
    cfg.logger = [&](raindrop::LogLevel, std::string_view message) {
        std::lock_guard<std::mutex> g(m);
        lines.emplace_back(message);
    };
    raindrop::Client a(cfg);
    raindrop::Event ev;
    ev.input = "in";
    EXPECT_FALSE(a.track_ai(ev).empty());
    a = raindrop::Client(config());
    EXPECT_TRUE(static_cast<bool>(a));
    std::lock_guard<std::mutex> g(m);
    bool dropped = false;
    for (const auto& l : lines) dropped = dropped || l.find("dropped") != std::string::npos;
    EXPECT_TRUE(dropped) << "the old client's shutdown did not log through its logger";
}
