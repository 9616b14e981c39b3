// The tests' loopback Raindrop API: the repository's one test sink program (examples/sink.rs,
// built as target/release/examples/sink; tests/README.md). Each Sink starts the program on an
// ephemeral port, reads the requests it dumps (one JSON line each: method, path, route, headers,
// body) and scripts its replies through its control endpoint. The program ends when the Sink
// does, or with this process however it ends (--exit-on-eof on a pipe only we hold).
#ifndef RAINDROP_TEST_SINK_HPP
#define RAINDROP_TEST_SINK_HPP

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "json_value.hpp"

extern char** environ;

namespace testsink {

struct Request {
    std::string method;
    std::string path;
    std::string route;  // "events/track", "traces", ... or the raw path
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;

    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

/// $RD_SINK, or target/release/examples/sink in this repository (found from this file's path).
inline std::string program() {
    if (const char* p = std::getenv("RD_SINK")) return p;
    std::string here = __FILE__;  // <repo>/bindings/cpp/tests/sink.hpp
    return here.substr(0, here.rfind('/')) + "/../../../target/release/examples/sink";
}

class Sink {
public:
    Sink() {
        char tmpl[] = "/tmp/rd-sink-XXXXXX";
        if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
        dir_ = tmpl;
        dump_ = dir_ + "/requests.jsonl";
        const std::string port_file = dir_ + "/port";
        const std::string prog = program();
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[0], 0);  // dup2 clears O_CLOEXEC on fd 0
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        std::vector<std::string> args = {prog, "--port-file", port_file, "--dump", dump_, "--exit-on-eof"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int rc = ::posix_spawn(&pid_, prog.c_str(), &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(fds[0]);
        stdin_ = fds[1];
        if (rc != 0) throw std::runtime_error("cannot start the test sink " + prog + " (make sink)");
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        for (;;) {
            std::ifstream f(port_file);
            if (f >> port_) break;
            int status;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("the test sink " + prog + " exited at start (make sink)");
            }
            if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the test sink did not start");
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

    ~Sink() { stop(); }
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;

    /// Stops the program (hanging requests and all).
    void stop() {
        if (pid_ <= 0) return;
        ::close(stdin_);
        int status;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        std::remove(dump_.c_str());
        std::remove((dir_ + "/port").c_str());
        ::rmdir(dir_.c_str());
    }

    int port() const { return port_; }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/"; }

    /// Hang mode: requests are recorded but not answered until set_hang(false), which answers
    /// them (200) and resets every scripted status.
    void set_hang(bool hang) {
        if (hang)
            control("script", R"({"fallback":{"hang":true}})");
        else
            control("release", "{}");
    }
    /// Every following request is answered with this status.
    void set_status(int status) {
        control("script", R"({"fallback":{"status":)" + std::to_string(status) + R"(,"body":"{}"}})");
    }

    /// Every request received so far, in arrival order.
    std::vector<Request> requests() const {
        std::ifstream f(dump_, std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        const std::string text = ss.str();
        std::vector<Request> out;
        std::size_t pos = 0, nl;
        // Only whole lines: the sink may be writing the next one.
        while ((nl = text.find('\n', pos)) != std::string::npos) {
            const mjson::Value v = mjson::parse(text.substr(pos, nl - pos));
            pos = nl + 1;
            Request r;
            r.method = v["method"].str();
            r.path = v["path"].str();
            r.route = v["route"].str();
            r.body = v["body"].str();
            for (const auto& kv : v["headers"].o) r.headers[kv.first] = kv.second.str();
            out.push_back(std::move(r));
        }
        return out;
    }
    std::vector<Request> requests_for(const std::string& route) const {
        std::vector<Request> out;
        for (auto& r : requests())
            if (r.route == route) out.push_back(std::move(r));
        return out;
    }

    /// Waits until pred(requests) holds or the timeout passes; returns pred's last value.
    bool wait_for(const std::function<bool(const std::vector<Request>&)>& pred,
                  std::chrono::milliseconds timeout) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (pred(requests())) return true;
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }

private:
    /// POST /_sink/<what> with a JSON body; throws unless the sink answers 200.
    void control(const std::string& what, const std::string& body) const {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) throw std::runtime_error("socket failed");
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(port_));
        std::string reply;
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
            const std::string req = "POST /_sink/" + what + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
            if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
                // The sink answers in one write and keeps the connection open: read the head and body.
                char buf[4096];
                ssize_t n;
                while (reply.find("\r\n\r\n") == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0)
                    reply.append(buf, static_cast<std::size_t>(n));
            }
        }
        ::close(fd);
        if (reply.compare(0, 12, "HTTP/1.1 200") != 0)
            throw std::runtime_error("sink control " + what + " failed: " + reply);
    }

    std::string dir_, dump_;
    pid_t pid_ = -1;
    int stdin_ = -1;
    int port_ = 0;
};

}  // namespace testsink

#endif
