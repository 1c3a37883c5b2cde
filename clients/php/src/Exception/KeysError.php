<?php

declare(strict_types=1);

namespace Kassagate\Exception;

/**
 * The server's published keys are unusable (not PEM RSA public keys, HMAC keys not
 * base64) or do not match the pinned fingerprints. Nothing was sent.
 */
final class KeysError extends KassagateException
{
}
