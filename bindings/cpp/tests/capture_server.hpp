// A tiny HTTP/1.1 capture server for the tests: POSIX sockets on 127.0.0.1:0, one thread per
// connection, keep-alive aware (Content-Length and chunked bodies), records method, path, route
// (path without the "/v1/" prefix), headers and body of every request. It answers 200 "{}" by
// default, a configured status, or never (hang mode) until it is stopped.
#ifndef RAINDROP_TEST_CAPTURE_SERVER_HPP
#define RAINDROP_TEST_CAPTURE_SERVER_HPP

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace testsrv {

struct Request {
    std::string method;
    std::string path;
    std::string route;  // path without the leading "/v1/" (or "/")
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;

    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

class CaptureServer {
public:
    CaptureServer() {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd_ < 0) throw std::runtime_error("socket failed");
        int one = 1;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error("bind failed");
        if (::listen(listen_fd_, 64) != 0) throw std::runtime_error("listen failed");
        socklen_t len = sizeof addr;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        accept_thread_ = std::thread([this] { accept_loop(); });
    }

    ~CaptureServer() { stop(); }
    CaptureServer(const CaptureServer&) = delete;
    CaptureServer& operator=(const CaptureServer&) = delete;

    void stop() {
        {
            std::lock_guard<std::mutex> lk(mu_);
            if (stopping_) return;
            stopping_ = true;
            for (int fd : conns_) ::shutdown(fd, SHUT_RDWR);
        }
        cv_.notify_all();
        ::shutdown(listen_fd_, SHUT_RDWR);
        if (accept_thread_.joinable()) accept_thread_.join();
        std::vector<std::thread> workers;
        {
            std::lock_guard<std::mutex> lk(mu_);
            workers.swap(workers_);
        }
        for (auto& t : workers) t.join();
        ::close(listen_fd_);
    }

    int port() const { return port_; }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/"; }

    /// Hang mode: requests are recorded but never answered (until stop()).
    void set_hang(bool hang) {
        {
            std::lock_guard<std::mutex> lk(mu_);
            hang_ = hang;
        }
        cv_.notify_all();
    }
    void set_status(int status) {
        std::lock_guard<std::mutex> lk(mu_);
        status_ = status;
    }

    std::vector<Request> requests() const {
        std::lock_guard<std::mutex> lk(mu_);
        return requests_;
    }
    std::vector<Request> requests_for(const std::string& route) const {
        std::lock_guard<std::mutex> lk(mu_);
        std::vector<Request> out;
        for (const auto& r : requests_)
            if (r.route == route) out.push_back(r);
        return out;
    }
    std::size_t connections_accepted() const {
        std::lock_guard<std::mutex> lk(mu_);
        return accepted_;
    }

    /// Waits until pred(requests) holds or the timeout passes; returns pred's last value.
    bool wait_for(const std::function<bool(const std::vector<Request>&)>& pred,
                  std::chrono::milliseconds timeout) {
        std::unique_lock<std::mutex> lk(mu_);
        return cv_.wait_for(lk, timeout, [&] { return pred(requests_); });
    }

private:
    void accept_loop() {
        for (;;) {
            int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                std::lock_guard<std::mutex> lk(mu_);
                if (stopping_) return;
                if (errno == EINTR || errno == ECONNABORTED) continue;
                return;
            }
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            std::lock_guard<std::mutex> lk(mu_);
            if (stopping_) {
                ::close(fd);
                return;
            }
            ++accepted_;
            conns_.insert(fd);
            workers_.emplace_back([this, fd] { serve(fd); });
        }
    }

    static std::string lower(std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    }
    static std::string trim(const std::string& s) {
        std::size_t b = 0, e = s.size();
        while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
        while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
        return s.substr(b, e - b);
    }

    // Reads more bytes into buf; false on EOF / error.
    static bool fill(int fd, std::string& buf) {
        char tmp[16384];
        for (;;) {
            ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
            if (n > 0) {
                buf.append(tmp, static_cast<std::size_t>(n));
                return true;
            }
            if (n < 0 && errno == EINTR) continue;
            return false;
        }
    }
    static bool send_all(int fd, const std::string& s) {
        std::size_t off = 0;
        while (off < s.size()) {
            ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }

    void serve(int fd) {
        std::string buf;
        for (;;) {
            std::size_t hdr_end;
            while ((hdr_end = buf.find("\r\n\r\n")) == std::string::npos)
                if (!fill(fd, buf)) return finish(fd);
            Request req;
            const std::string head = buf.substr(0, hdr_end);
            buf.erase(0, hdr_end + 4);
            std::size_t line_end = head.find("\r\n");
            const std::string request_line = head.substr(0, line_end);
            {
                std::size_t a = request_line.find(' ');
                std::size_t b = request_line.find(' ', a + 1);
                req.method = request_line.substr(0, a);
                req.path = request_line.substr(a + 1, b - a - 1);
            }
            std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
            while (pos < head.size()) {
                std::size_t e = head.find("\r\n", pos);
                if (e == std::string::npos) e = head.size();
                const std::string line = head.substr(pos, e - pos);
                const std::size_t colon = line.find(':');
                if (colon != std::string::npos)
                    req.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
                pos = e + 2;
            }
            if (lower(req.header("expect")) == "100-continue")
                send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n");
            if (lower(req.header("transfer-encoding")).find("chunked") != std::string::npos) {
                for (;;) {
                    std::size_t le;
                    while ((le = buf.find("\r\n")) == std::string::npos)
                        if (!fill(fd, buf)) return finish(fd);
                    const std::size_t size = std::stoul(buf.substr(0, le), nullptr, 16);
                    buf.erase(0, le + 2);
                    while (buf.size() < size + 2)
                        if (!fill(fd, buf)) return finish(fd);
                    req.body.append(buf, 0, size);
                    buf.erase(0, size + 2);
                    if (size == 0) break;
                }
            } else {
                const std::string cl = req.header("content-length");
                const std::size_t len = cl.empty() ? 0 : std::stoul(cl);
                while (buf.size() < len)
                    if (!fill(fd, buf)) return finish(fd);
                req.body = buf.substr(0, len);
                buf.erase(0, len);
            }
            std::string route = req.path;
            if (route.rfind("/v1/", 0) == 0)
                route.erase(0, 4);
            else if (!route.empty() && route[0] == '/')
                route.erase(0, 1);
            req.route = route;
            const bool close_after = lower(req.header("connection")) == "close";
            int status;
            {
                std::unique_lock<std::mutex> lk(mu_);
                requests_.push_back(req);
                cv_.notify_all();
                cv_.wait(lk, [this] { return !hang_ || stopping_; });
                if (stopping_) {
                    lk.unlock();
                    return finish(fd);
                }
                status = status_;
            }
            const std::string body = "{}";
            std::string resp = "HTTP/1.1 " + std::to_string(status) + " Status\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: " + std::to_string(body.size()) + "\r\n" +
                               (close_after ? "Connection: close\r\n" : "Connection: keep-alive\r\n") +
                               "\r\n" + body;
            if (!send_all(fd, resp) || close_after) return finish(fd);
        }
    }

    void finish(int fd) {
        std::lock_guard<std::mutex> lk(mu_);
        conns_.erase(fd);
        ::close(fd);
    }

    int listen_fd_ = -1;
    int port_ = 0;
    std::thread accept_thread_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    bool hang_ = false;
    int status_ = 200;
    std::size_t accepted_ = 0;
    std::set<int> conns_;
    std::vector<std::thread> workers_;
    std::vector<Request> requests_;
};

}  // namespace testsrv

#endif
