import AuthProbe
