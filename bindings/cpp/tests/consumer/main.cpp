// Built against an installed raindrop_dspy package (find_package), run by run-tests.sh.
#include <raindrop/raindrop.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    const std::string path = argv[1];
    {
        raindrop::Config cfg;
        cfg.api_key = "consumer-key";
        cfg.endpoint = "file://" + path;
        raindrop::Client client(cfg);
        auto upper = client.wrap("upper", [](const raindrop::Inputs& in) { return in.at("text") + "!"; });
        if (upper({{"text", "hello"}}) != "hello!") return 3;
        if (!client.flush(std::chrono::seconds(5))) return 4;
    }
    std::ifstream in(path);
    std::string line, all;
    while (std::getline(in, line)) all += line + "\n";
    if (all.find("hello!") == std::string::npos) {
        std::cerr << "consumer: event not written:\n" << all;
        return 5;
    }
    std::cout << "consumer (" << (argc > 2 ? argv[2] : "find_package") << "): ok, core " << raindrop::core_version() << "\n";
    return 0;
}
