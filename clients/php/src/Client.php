<?php

declare(strict_types=1);

namespace Kassagate;

use Kassagate\Exception\AccountError;
use Kassagate\Exception\AuthError;
use Kassagate\Exception\EnvelopeError;
use Kassagate\Exception\FiscalDriveError;
use Kassagate\Exception\KeysError;
use Kassagate\Exception\ProtocolError;
use Kassagate\Exception\ReceiptInvalid;
use Kassagate\Exception\RequestRejected;
use Kassagate\Exception\ServerBusy;
use Kassagate\Exception\StatusNotFound;
use Kassagate\Exception\TransportError;
use Kassagate\Exception\WaitTimeout;

/**
 * A client of a kassagate front server for one kassa (or, with the "cluster" option, one
 * cluster).
 *
 *     $kassa = new Client('https://kassa.example.com', '123456', $token);
 *     $answer = $kassa->send($receipt, rid: 'order-1001');
 *     $status = $kassa->waitFiscalized($answer->nuid, $answer->qnuid);
 *
 * Options:
 * - timeout (float, 30): seconds for a whole HTTP request; connect_timeout (float, 10);
 * - keys (PublicKeys): the server's published keys, never fetched then (pinning the
 *   whole set: what `kassagate keys show` prints);
 * - pins (list of "sha256//base64"): fingerprints of the RSA keys fetched from
 *   GET /v1/keys; keys that do not match are refused (KeysError) and nothing is sent;
 * - cluster (bool, false): send to POST /v1/fiscalize/cluster with the cluster's id/token;
 * - fiscalize_path (string): another intake path (/srv/igd.php also works);
 * - verify_tls (bool, true), ca_file (string): TLS settings of curl;
 * - user_agent (string).
 *
 * The token never appears in an error message, a URL, var_dump()/print_r() of the client
 * or (PHP 8.2+) the arguments of a stack trace.
 */
final class Client
{
    public const KASSA_PATH = '/v1/fiscalize';
    public const CLUSTER_PATH = '/v1/fiscalize/cluster';
    public const STATUS_PATH = '/v1/status';
    public const KEYS_PATH = '/v1/keys';
    /** A RID: 1 to 64 characters of A-Z a-z 0-9 _ - . : */
    public const RID_PATTERN = '/^[A-Za-z0-9_.:-]{1,64}$/';

    /** Success codes of a send, with 409 (duplicate RID). */
    private const ANSWER_CODES = [100, 140, 390, 800, 810, 820, 409];
    /** Error codes by the exception that carries them. */
    private const ERRORS = [
        EnvelopeError::class => [90, 150, 110, 260, 120, 130],
        AuthError::class => [270, 280, 290, 300, 320, 160, 180, 350],
        AccountError::class => [310, 170, 40, 50, 190, 220],
        FiscalDriveError::class => [330, 340, 200],
        ServerBusy::class => [70, 80],
    ];
    /** Receipt errors found by the server: the receipt's rules, the cluster type, vending fields. */
    private const RECEIPT_CODES = [60, 230, 4040];
    /** After these, the keys are fetched again and the request sent once more if they changed. */
    private const KEY_FAILURES = [120, 130];

    private readonly string $baseUrl;
    private ?PublicKeys $keys;
    private readonly float $timeout;
    private readonly float $connectTimeout;
    /** @var list<string> */
    private readonly array $pins;
    private readonly bool $keysGiven;
    private readonly string $fiscalizePath;
    private readonly bool $verifyTls;
    private readonly ?string $caFile;
    private readonly string $userAgent;

    /**
     * @param array<string, mixed> $options see the class comment
     */
    public function __construct(
        string $baseUrl,
        private readonly string $kassaid,
        #[\SensitiveParameter] private readonly string $token,
        array $options = [],
    ) {
        $known = ['timeout', 'connect_timeout', 'keys', 'pins', 'cluster', 'fiscalize_path', 'verify_tls', 'ca_file', 'user_agent'];
        $unknown = array_diff(array_keys($options), $known);
        if ($unknown !== []) {
            throw new \InvalidArgumentException('unknown option(s): ' . implode(', ', $unknown) . '; known: ' . implode(', ', $known));
        }
        if (preg_match('#^https?://[^\s/?\#]+(/[^\s?\#]*)?$#i', $baseUrl) !== 1) {
            throw new \InvalidArgumentException('base URL must be http(s)://host[:port][/path], without query or fragment');
        }
        if (preg_match('/^\d{1,20}$/', $kassaid) !== 1) {
            throw new \InvalidArgumentException('kassaid must be 1 to 20 digits');
        }
        if ($token === '') {
            throw new \InvalidArgumentException('the token must not be empty');
        }
        $this->baseUrl = rtrim($baseUrl, '/');
        $this->timeout = (float) ($options['timeout'] ?? 30.0);
        $this->connectTimeout = (float) ($options['connect_timeout'] ?? 10.0);
        $keys = $options['keys'] ?? null;
        if ($keys !== null && !$keys instanceof PublicKeys) {
            throw new \InvalidArgumentException('option keys must be a PublicKeys (PublicKeys::fromJson(...))');
        }
        $this->keys = $keys;
        $this->keysGiven = $keys !== null;
        $pins = $options['pins'] ?? [];
        if (!is_array($pins) || array_filter($pins, static fn ($p): bool => !is_string($p) || !str_starts_with($p, 'sha256//')) !== []) {
            throw new \InvalidArgumentException('option pins must be a list of "sha256//<base64>" fingerprints');
        }
        $this->pins = array_values($pins);
        $cluster = (bool) ($options['cluster'] ?? false);
        $this->fiscalizePath = (string) ($options['fiscalize_path'] ?? ($cluster ? self::CLUSTER_PATH : self::KASSA_PATH));
        $this->verifyTls = (bool) ($options['verify_tls'] ?? true);
        $this->caFile = isset($options['ca_file']) ? (string) $options['ca_file'] : null;
        $this->userAgent = (string) ($options['user_agent'] ?? 'kassagate-php/0.1');
    }

    /**
     * Encrypt and send a checked receipt. $rid (1 to 64 of A-Z a-z 0-9 _ - . :) makes the
     * request idempotent: sending the same RID again answers the first request's nuid and
     * qnuid (isDuplicate()). $test asks the server to decrypt and check only (code 140,
     * nothing stored). Returns the answer for 800/810/820/390/409/140; throws a
     * RequestRejected subclass for an error code, TransportError when the server cannot be
     * reached (resend with the same RID).
     */
    public function send(Receipt $receipt, ?string $rid = null, bool $test = false): Answer
    {
        if ($rid !== null && preg_match(self::RID_PATTERN, $rid) !== 1) {
            throw new \InvalidArgumentException('rid must be 1 to 64 characters of A-Z a-z 0-9 _ - . :');
        }
        $wire = $this->withAccount($receipt);
        $keys = $this->keys();
        $answer = $this->postSealed($wire, $keys, $rid, $test);
        if (in_array($answer['code'], self::KEY_FAILURES, true) && !$this->keysGiven) {
            $fresh = $this->fetchKeys();
            if (!$fresh->equals($keys)) {
                $answer = $this->postSealed($wire, $fresh, $rid, $test);
            }
        }
        return $this->toAnswer($answer);
    }

    /**
     * A bare connectivity check ({"test": "1"}): code 100.
     */
    public function testConnection(): Answer
    {
        return $this->sendBody(['test' => '1']);
    }

    /**
     * POST a ready body (e.g. Envelope::seal() output, or a deliberately broken one) to the
     * intake endpoint and map the answer as send() does.
     *
     * @param array<string, mixed> $body
     */
    public function sendBody(array $body): Answer
    {
        return $this->toAnswer($this->post($body));
    }

    /**
     * The request's status (GET /v1/status). StatusNotFound for an unknown nuid/qnuid pair.
     */
    public function status(string $nuid, string $qnuid): Status
    {
        $query = http_build_query(['nuid' => $nuid, 'qnuid' => $qnuid], '', '&', PHP_QUERY_RFC3986);
        [$http, $body] = $this->request('GET', self::STATUS_PATH . '?' . $query, null, $this->timeout);
        if ($http === 404) {
            throw new StatusNotFound('no request with this nuid/qnuid', 404);
        }
        $obj = self::decode($body);
        if ($http !== 200 || $obj === null) {
            $detail = is_string($obj['error'] ?? null) ? ': ' . $obj['error'] : '';
            throw new ProtocolError("HTTP $http: unexpected status answer$detail", $http);
        }
        $status = Status::fromArray($obj);
        if ($status === null) {
            throw new ProtocolError('the status answer has no numeric check_status', $http);
        }
        return $status;
    }

    /**
     * Poll the status until it is final (fiscalized, failed or debug) and return it.
     * WaitTimeout (with the last status seen) after $timeout seconds; the interval grows by
     * half up to $maxInterval. A server unreachable while polling is retried until then.
     */
    public function waitFiscalized(string $nuid, string $qnuid, float $timeout = 60.0, float $interval = 0.2, float $maxInterval = 2.0): Status
    {
        $deadline = microtime(true) + $timeout;
        $last = null;
        while (true) {
            try {
                $last = $this->status($nuid, $qnuid);
                if ($last->isFinal()) {
                    return $last;
                }
            } catch (TransportError) {
                // the server may be restarting: keep polling until the deadline
            }
            $remaining = $deadline - microtime(true);
            if ($remaining <= 0) {
                throw new WaitTimeout(sprintf('request still pending after %g s', $timeout), $last);
            }
            usleep((int) (min($interval, $remaining) * 1e6));
            $interval = min($interval * 1.5, $maxInterval);
        }
    }

    /**
     * The keys in use: the ones given in the options, or fetched (once) from GET /v1/keys.
     */
    public function keys(): PublicKeys
    {
        return $this->keys ?? $this->fetchKeys();
    }

    /**
     * Fetch the published keys (checking the pins, if any) and keep them.
     */
    public function fetchKeys(): PublicKeys
    {
        [$http, $body] = $this->request('GET', self::KEYS_PATH, null, $this->timeout);
        $obj = self::decode($body);
        if ($http !== 200 || $obj === null) {
            throw new ProtocolError("HTTP $http from GET /v1/keys", $http);
        }
        $keys = PublicKeys::fromJson($obj);
        if ($this->pins !== [] && !$keys->matchesPins($this->pins)) {
            throw new KeysError('the server\'s RSA keys (' . implode(', ', $keys->fingerprints) . ') do not match the pinned fingerprints');
        }
        return $this->keys = $keys;
    }

    /**
     * @return array<string, string>
     */
    public function __debugInfo(): array
    {
        return ['baseUrl' => $this->baseUrl, 'kassaid' => $this->kassaid, 'fiscalizePath' => $this->fiscalizePath];
    }

    /**
     * @return array<string, mixed>
     */
    private function withAccount(Receipt $receipt): array
    {
        $wire = $receipt->toArray();
        if (isset($wire['kassaid']) && $wire['kassaid'] !== $this->kassaid) {
            throw new ReceiptInvalid('kassaid', "the receipt names kassa {$wire['kassaid']}, this client sends as {$this->kassaid}");
        }
        if (isset($wire['kassatoken']) && !hash_equals($this->token, $wire['kassatoken'])) {
            throw new ReceiptInvalid('kassatoken', 'the receipt carries another token than this client\'s');
        }
        return ['kassaid' => $this->kassaid, 'kassatoken' => $this->token] + $wire;
    }

    /**
     * @param array<string, mixed> $wire
     * @return array<string, mixed>
     */
    private function postSealed(#[\SensitiveParameter] array $wire, PublicKeys $keys, ?string $rid, bool $test): array
    {
        return $this->post(Envelope::seal($wire, $keys, $this->kassaid, $this->token, $rid, $test));
    }

    /**
     * @param array<string, mixed> $body
     * @return array{code: int, http: int, obj: array<string, mixed>}
     */
    private function post(array $body): array
    {
        [$http, $text] = $this->request('POST', $this->fiscalizePath, Envelope::encodeJson($body), $this->timeout);
        $obj = self::decode($text);
        $code = $obj === null ? null : self::code($obj['code'] ?? null);
        if ($code === null) {
            if ($http === 413) {
                return ['code' => 413, 'http' => 413, 'obj' => ['status' => 'error', 'error' => 'request body too large']];
            }
            if ($http >= 502 && $http <= 504) {
                throw new ServerBusy(0, "HTTP $http from a proxy in front of the server: nothing known to be stored, resend with the same RID", $http);
            }
            throw new ProtocolError("HTTP $http: the answer is not a JSON object with a code", $http);
        }
        return ['code' => $code, 'http' => $http, 'obj' => $obj];
    }

    /**
     * @param array{code: int, http: int, obj: array<string, mixed>} $answer
     */
    private function toAnswer(array $answer): Answer
    {
        ['code' => $code, 'http' => $http, 'obj' => $obj] = $answer;
        $status = $obj['status'] ?? null;
        $text = self::text($status === 'success' ? ($obj['success'] ?? null) : ($obj['error'] ?? null))
            ?? self::text($obj['error'] ?? null) ?? self::text($obj['success'] ?? null) ?? '';
        if (in_array($code, self::ANSWER_CODES, true) && ($status !== 'error' || $code === Answer::DUPLICATE)) {
            $same = $obj['same_request'] ?? null;
            return new Answer(
                $code,
                $text,
                $http,
                self::text($obj['nuid'] ?? null),
                self::text($obj['qnuid'] ?? null),
                self::text($obj['rid_error'] ?? null),
                is_bool($same) ? $same : null,
                $obj,
            );
        }
        if (in_array($code, self::RECEIPT_CODES, true)) {
            // kassagate's text: "<the code's description> (receipt) <path>: <what was expected>"
            $path = preg_match('/(?:^|\(receipt\) )([A-Za-z_]\w*(?:\[\d+\])?(?:\.[A-Za-z_]\w*(?:\[\d+\])?)*): (.*)$/s', $text, $m) === 1;
            throw new ReceiptInvalid($path ? $m[1] : '', $text, $code, false);
        }
        foreach (self::ERRORS as $class => $codes) {
            if (in_array($code, $codes, true)) {
                throw new $class($code, $text, $http, $obj);
            }
        }
        throw new RequestRejected($code, $text === '' ? "code $code" : $text, $http, $obj);
    }

    /**
     * @return array{0: int, 1: string}
     */
    private function request(string $method, string $path, ?string $body, float $timeout): array
    {
        $what = $method . ' ' . strtok($path, '?');
        $curl = curl_init($this->baseUrl . $path);
        if ($curl === false) {
            throw new TransportError("$what failed: curl could not start");
        }
        $headers = ['Accept: application/json', 'Expect:'];
        if ($body !== null) {
            $headers[] = 'Content-Type: application/json';
        }
        $options = [
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            CURLOPT_TIMEOUT_MS => (int) ceil($timeout * 1000),
            CURLOPT_CONNECTTIMEOUT_MS => (int) ceil(min($this->connectTimeout, $timeout) * 1000),
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_USERAGENT => $this->userAgent,
            CURLOPT_SSL_VERIFYPEER => $this->verifyTls,
            CURLOPT_SSL_VERIFYHOST => $this->verifyTls ? 2 : 0,
        ];
        if ($this->caFile !== null) {
            $options[CURLOPT_CAINFO] = $this->caFile;
        }
        if ($method === 'POST') {
            $options[CURLOPT_POST] = true;
            $options[CURLOPT_POSTFIELDS] = $body ?? '';
        }
        curl_setopt_array($curl, $options);
        $text = curl_exec($curl);
        if ($text === false || !is_string($text)) {
            $errno = curl_errno($curl);
            $kind = $errno === CURLE_OPERATION_TIMEDOUT ? 'timed out' : 'failed';
            $detail = curl_error($curl);
            curl_close($curl);
            throw new TransportError("$what $kind: $detail");
        }
        $http = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        curl_close($curl);
        return [$http, $text];
    }

    /**
     * @return array<string, mixed>|null
     */
    private static function decode(string $body): ?array
    {
        try {
            $obj = json_decode($body, true, 64, JSON_THROW_ON_ERROR);
        } catch (\JsonException) {
            return null;
        }
        return is_array($obj) && ($obj === [] || !array_is_list($obj)) ? $obj : null;
    }

    private static function code(mixed $value): ?int
    {
        if (is_int($value)) {
            return $value;
        }
        if (is_string($value) && preg_match('/^\d{1,6}$/', $value) === 1) {
            return (int) $value;
        }
        return null;
    }

    private static function text(mixed $value): ?string
    {
        if (is_string($value)) {
            return $value === '' ? null : $value;
        }
        return is_int($value) || is_float($value) ? (string) $value : null;
    }
}
