#include <muster/runtime/line_log.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

namespace {

// Writes one record through a line_log into a temporary file and returns the text written.
std::string written(const muster::log_record& record, muster::log_level level_min = muster::log_level::info) {
    std::FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    muster::runtime::line_log log(file, level_min);
    log.write(record);
    std::rewind(file);
    std::string text;
    for (int c = std::fgetc(file); c != EOF; c = std::fgetc(file)) text += static_cast<char>(c);
    std::fclose(file);
    return text;
}

}  // namespace

TEST_CASE("line log writes one line per record", "[runtime]") {
    const auto text = written({muster::log_level::warn, "app@a", "member_failed", {{"member", "app@b"}}});
    REQUIRE(text.size() > 25);
    CHECK(text[4] == '-');
    CHECK(text[10] == 'T');
    CHECK(text.substr(23, 2) == "Z ");
    CHECK(text.substr(25) == "warn app@a member_failed member=app@b\n");
}

TEST_CASE("line log quotes values with spaces", "[runtime]") {
    const auto text = written({muster::log_level::error, "app@a", "decode_failed", {{"reason", "frame is \"bad\""}, {"empty", ""}}});
    CHECK(text.substr(25) == "error app@a decode_failed reason=\"frame is \\\"bad\\\"\" empty=\"\"\n");
}

TEST_CASE("line log skips levels below minimum", "[runtime]") {
    CHECK(written({muster::log_level::debug, "app@a", "link_open", {}}).empty());
    CHECK_FALSE(written({muster::log_level::debug, "app@a", "link_open", {}}, muster::log_level::debug).empty());
}
