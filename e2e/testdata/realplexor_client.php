<?php
// A small publisher written against Realplexor's IN-line protocol the way
// its PHP API speaks it (fsockopen, one request, shutdown of the writing
// side, read to the end, check the status and the Content-Length), used by
// TestRealplexorPHPClient. Each step prints one JSON line.
//
// Usage: php realplexor_client.php HOST PORT LOGIN PASSWORD NAMESPACE

function in_request($host, $port, $identifier, $body) {
    $request = "POST / HTTP/1.1\r\n"
        . "Host: $host\r\n"
        . "Content-Length: " . strlen($body) . "\r\n"
        . "X-Realplexor: identifier=$identifier\r\n"
        . "\r\n"
        . $body;
    $f = fsockopen($host, $port, $errno, $errstr, 5);
    if (!$f) {
        throw new Exception("connect: $errstr");
    }
    fwrite($f, $request);
    stream_socket_shutdown($f, STREAM_SHUT_WR);
    $answer = stream_get_contents($f);
    fclose($f);
    $parts = preg_split('/\r?\n\r?\n/s', $answer, 2);
    if (count($parts) != 2 || !preg_match('{^HTTP/[\d.]+ +((\d+)[^\r\n]*)}', $parts[0], $m)) {
        throw new Exception("not HTTP: $answer");
    }
    if ($m[2] != 200) {
        throw new Exception("Request failed: " . $m[1] . "\n" . $parts[1]);
    }
    if (!preg_match('/^Content-Length: *(\d+)/mi', $parts[0], $len) || $len[1] != strlen($parts[1])) {
        throw new Exception("bad Content-Length in: $answer");
    }
    return $parts[1];
}

list(, $host, $port, $login, $password, $ns) = $argv;
$ns = $login . "_" . $ns; // a login's IDs start with LOGIN_
$cred = "$login:$password@";
$step = function ($name, $fn) {
    try {
        echo json_encode(array("step" => $name, "ok" => true, "answer" => $fn())), "\n";
    } catch (Exception $e) {
        echo json_encode(array("step" => $name, "ok" => false, "error" => $e->getMessage())), "\n";
    }
};

$step("send", function () use ($host, $port, $cred, $ns) {
    return in_request($host, $port, $cred . "123:{$ns}room,*{$ns}u1", json_encode(array("text" => "to u1", "n" => 1)));
});
$step("send_all", function () use ($host, $port, $cred, $ns) {
    return in_request($host, $port, $cred . "{$ns}room", json_encode("to all"));
});
$step("online", function () use ($host, $port, $cred, $ns) {
    return in_request($host, $port, $cred, "online $ns\n");
});
$step("watch", function () use ($host, $port, $cred, $ns) {
    return in_request($host, $port, $cred, "watch 0 $ns\n");
});
$step("wrong_password", function () use ($host, $port, $login, $ns) {
    return in_request($host, $port, "$login:wrong@{$ns}room", json_encode("nope"));
});
