<?php

declare(strict_types=1);

namespace Kassagate\Exception;

/**
 * The server could not open the envelope: body malformed (90, 150), inner layer missing
 * (110, 260), RSA or HMAC failed (120, 130). The client fetches the keys again once on
 * 120 and 130; seen here, the keys or the URL are wrong.
 */
final class EnvelopeError extends RequestRejected
{
}
